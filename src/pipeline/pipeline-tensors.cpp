// Tensors in memory as a pipeline source: they are made to look like a .safetensors file
// (JSON header in memory, each tensor's bytes read straight from the caller's pointer), so
// the .lmgc file decompresses to a .safetensors file and nothing is copied up front.
#include "pipeline/pipeline-tensors.hpp"
#include "common/common-error.hpp"
#include "common/common-json.hpp"

#include <algorithm>
#include <cstring>
#include <set>

namespace lmgc::detail {
namespace {

const char* safetensors_code(dtype t) {
    switch (t) {
    case dtype::f64:
        return "F64";
    case dtype::f32:
        return "F32";
    case dtype::f16:
        return "F16";
    case dtype::bf16:
        return "BF16";
    case dtype::i8:
        return "I8";
    case dtype::u8:
        return "U8";
    case dtype::i16:
        return "I16";
    case dtype::u16:
        return "U16";
    case dtype::i32:
        return "I32";
    case dtype::u32:
        return "U32";
    case dtype::i64:
        return "I64";
    case dtype::u64:
        return "U64";
    case dtype::boolean:
        return "BOOL";
    }
    return nullptr;
}

} // namespace

tensor_set_source::tensor_set_source(std::span<const tensor_ref> tensors,
                                     const metadata_t& metadata) {
    std::set<std::string> names;
    std::string json = "{";
    bool first = true;
    auto sep = [&] {
        if (!first) json += ",";
        first = false;
    };
    if (!metadata.empty()) {
        sep();
        json += "\"__metadata__\":{";
        std::set<std::string> keys;
        for (std::size_t i = 0; i < metadata.size(); ++i) {
            LMGC_CHECK(keys.insert(metadata[i].first).second, errc::usage, "metadata key '",
                       metadata[i].first, "' appears twice");
            if (i) json += ',';
            json += json_quote(metadata[i].first);
            json += ':';
            json += json_quote(metadata[i].second);
        }
        json += "}";
    }
    std::uint64_t data = 0;
    for (const auto& t : tensors) {
        LMGC_CHECK(!t.name.empty(), errc::usage, "a tensor has an empty name");
        LMGC_CHECK(t.name != "__metadata__", errc::usage,
                   "'__metadata__' is reserved and cannot name a tensor");
        LMGC_CHECK(names.insert(t.name).second, errc::usage, "tensor name '", t.name,
                   "' appears twice");
        const char* code = safetensors_code(t.type);
        LMGC_CHECK(code != nullptr, errc::usage, "tensor '", t.name, "' has no valid dtype");
        LMGC_CHECK(t.shape.size() <= 64, errc::usage, "tensor '", t.name,
                   "' has more than 64 dimensions");
        std::uint64_t elems = 1;
        for (const auto d : t.shape) {
            LMGC_CHECK(d >= 0, errc::usage, "tensor '", t.name, "' has a negative dimension");
            LMGC_CHECK(d == 0 || elems <= (std::uint64_t{1} << 56) / static_cast<std::uint64_t>(d),
                       errc::usage, "tensor '", t.name, "' is too large");
            elems *= static_cast<std::uint64_t>(d);
        }
        const std::uint64_t n = elems * dtype_size(t.type);
        LMGC_CHECK(n == 0 || t.data != nullptr, errc::usage, "tensor '", t.name,
                   "' has no data pointer");
        sep();
        json += json_quote(t.name) + ":{\"dtype\":\"" + code + "\",\"shape\":[";
        for (std::size_t d = 0; d < t.shape.size(); ++d) {
            if (d) json += ',';
            json += std::to_string(t.shape[d]);
        }
        json +=
            "],\"data_offsets\":[" + std::to_string(data) + "," + std::to_string(data + n) + "]}";
        parts_.push_back({static_cast<const std::uint8_t*>(t.data), 0, n});
        tensor_region r;
        r.name = t.name;
        r.type = t.type;
        r.shape = t.shape;
        r.offset = data; // shifted below, once the header size is known
        r.nbytes = n;
        if (n) parsed_.tensors.push_back(std::move(r));
        data += n;
    }
    json += "}";
    json.resize((json.size() + 7) / 8 * 8, ' '); // data starts 8-byte aligned, as safetensors does
    header_.resize(8);
    store_le<std::uint64_t>(header_.data(), json.size());
    header_.insert(header_.end(), json.begin(), json.end());
    std::uint64_t at = header_.size();
    for (auto& p : parts_) {
        p.offset = at;
        at += p.nbytes;
    }
    for (auto& r : parsed_.tensors) r.offset += header_.size();
    size_ = at;
    parsed_.format = source_format::safetensors;
}

byte_span tensor_set_source::view(std::uint64_t offset, std::uint64_t n) const {
    if (n == 0 || offset < header_.size() || offset > size_ || n > size_ - offset) return {};
    const auto it = std::upper_bound(parts_.begin(), parts_.end(), offset,
                                     [](std::uint64_t v, const part& p) { return v < p.offset; });
    if (it == parts_.begin()) return {};
    const part& p = *std::prev(it);
    if (offset + n > p.offset + p.nbytes) return {}; // not in one tensor (or an empty one)
    return {p.data + (offset - p.offset), static_cast<std::size_t>(n)};
}

void tensor_set_source::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
    LMGC_CHECK(offset <= size_ && out.size() <= size_ - offset, errc::internal,
               "read past the end of the tensors");
    std::uint64_t pos = offset;
    std::size_t done = 0;
    while (done < out.size()) {
        if (pos < header_.size()) {
            const auto n = std::min<std::uint64_t>(header_.size() - pos, out.size() - done);
            std::memcpy(out.data() + done, header_.data() + pos, n);
            pos += n;
            done += n;
            continue;
        }
        // The tensor holding pos (parts are sorted by offset; empty ones are skipped).
        const auto it =
            std::upper_bound(parts_.begin(), parts_.end(), pos,
                             [](std::uint64_t v, const part& p) { return v < p.offset; });
        LMGC_ASSERT(it != parts_.begin());
        auto p = std::prev(it);
        while (p->nbytes == 0 || pos >= p->offset + p->nbytes) ++p; // past empty ones
        const auto n = std::min<std::uint64_t>(p->offset + p->nbytes - pos, out.size() - done);
        std::memcpy(out.data() + done, p->data + (pos - p->offset), n);
        pos += n;
        done += n;
    }
}

} // namespace lmgc::detail
