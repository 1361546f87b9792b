// Gradient file writers without LibTorch: .safetensors (one tensor per parameter, with
// metadata) and .npy (the flat vector, the paper's layout). Both are read back by src/io.
#include "collect/collect-data.hpp"

#include "common/common-json.hpp"

#include <cstring>

namespace lmgc::detail {

bytes make_safetensors_f32(std::span<const named_f32> tensors,
                           const std::vector<std::pair<std::string, std::string>>& metadata) {
    std::string header = "{";
    if (!metadata.empty()) {
        header += "\"__metadata__\":{";
        for (std::size_t i = 0; i < metadata.size(); ++i) {
            if (i) header += ',';
            header += json_quote(metadata[i].first);
            header += ':';
            header += json_quote(metadata[i].second);
        }
        header += "}";
    }
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        LMGC_CHECK(!t.name.empty() && t.name != "__metadata__", errc::usage,
                   "safetensors: bad tensor name '", t.name, "'");
        std::uint64_t n = 1;
        for (const auto d : t.shape) {
            LMGC_CHECK(d >= 0, errc::usage, "safetensors: negative dimension in '", t.name, "'");
            n *= static_cast<std::uint64_t>(d);
        }
        LMGC_CHECK(n == t.data.size(), errc::internal, "safetensors: tensor '", t.name, "' has ",
                   t.data.size(), " values but its shape holds ", n);
        // Appends piece by piece: GCC 12 warns falsely (-Wrestrict) on ("," or "") + string.
        if (header.size() > 1) header += ',';
        header += json_quote(t.name);
        header += ":{\"dtype\":\"F32\",\"shape\":[";
        for (std::size_t d = 0; d < t.shape.size(); ++d) {
            if (d) header += ',';
            header += std::to_string(t.shape[d]);
        }
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                  std::to_string(offset + 4 * n) + "]}";
        offset += 4 * n;
    }
    header += "}";
    // The reference writer pads the header with spaces so the data starts 8-aligned.
    while (header.size() % 8) header += ' ';
    bytes out(8 + header.size() + offset);
    store_le<std::uint64_t>(out.data(), header.size());
    std::memcpy(out.data() + 8, header.data(), header.size());
    std::uint8_t* p = out.data() + 8 + header.size();
    for (const auto& t : tensors) {
        if (!t.data.empty()) std::memcpy(p, t.data.data(), t.data.size_bytes());
        p += t.data.size_bytes();
    }
    return out;
}

bytes make_npy_f32(std::span<const float> data, const std::vector<std::int64_t>& shape) {
    std::string dims;
    std::uint64_t n = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) dims += ", ";
        dims += std::to_string(shape[i]);
        n *= static_cast<std::uint64_t>(shape[i]);
    }
    if (shape.size() == 1) dims += ","; // numpy writes (3,) for one dimension, (3, 4) else
    LMGC_CHECK(n == data.size(), errc::internal, "npy: shape holds ", n, " values, data has ",
               data.size());
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Magic (6) + version (2) + length (2) + header, padded with spaces and ending in '\n'
    // so that the data starts 64-aligned, as numpy writes it.
    const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
    header.append(total - 10 - header.size() - 1, ' ');
    header += '\n';
    LMGC_CHECK(header.size() <= 65535, errc::internal, "npy: header too long");
    bytes out(10 + header.size() + data.size_bytes());
    const std::uint8_t magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    std::memcpy(out.data(), magic, 8);
    store_le<std::uint16_t>(out.data() + 8, static_cast<std::uint16_t>(header.size()));
    std::memcpy(out.data() + 10, header.data(), header.size());
    if (!data.empty()) std::memcpy(out.data() + 10 + header.size(), data.data(), data.size_bytes());
    return out;
}

} // namespace lmgc::detail
