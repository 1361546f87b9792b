// Format detection, region validation and skeleton extraction shared by all parsers.
#include "io/io-tensor-file.hpp"

#include <cstring>
#include <limits>

namespace lmgc::detail {

std::string_view source_format_name(source_format f) noexcept {
    switch (f) {
    case source_format::npy:
        return "npy";
    case source_format::safetensors:
        return "safetensors";
    case source_format::torch:
        return "torch";
    case source_format::raw:
        return "raw";
    }
    return "?";
}

std::uint64_t shape_elements(const std::vector<std::int64_t>& shape, std::string_view what) {
    std::uint64_t n = 1;
    for (const auto d : shape) {
        LMGC_CHECK(d >= 0, errc::bad_input, what, ": negative dimension ", d);
        const auto ud = static_cast<std::uint64_t>(d);
        LMGC_CHECK(ud == 0 || n <= std::numeric_limits<std::uint64_t>::max() / ud / 8,
                   errc::bad_input, what, ": shape too large");
        n *= ud;
    }
    return n;
}

void validate_regions(const parsed_file& pf, std::uint64_t file_size) {
    std::uint64_t end = 0;
    for (const auto& t : pf.tensors) {
        const auto fmt = source_format_name(pf.format);
        LMGC_CHECK(t.offset >= end, errc::bad_input, fmt, ": tensor '", t.name,
                   "' overlaps the previous tensor");
        LMGC_CHECK(t.offset <= file_size && t.nbytes <= file_size - t.offset, errc::bad_input, fmt,
                   ": tensor '", t.name, "' extends past the end of the file");
        const auto elems = shape_elements(t.shape, t.name);
        LMGC_CHECK(elems * dtype_size(t.type) == t.nbytes, errc::bad_input, fmt, ": tensor '",
                   t.name, "' has ", t.nbytes, " bytes but its shape needs ",
                   elems * dtype_size(t.type));
        end = t.offset + t.nbytes;
    }
}

bytes extract_skeleton(byte_span file, const std::vector<tensor_region>& tensors) {
    bytes out;
    std::uint64_t pos = 0;
    std::uint64_t total = 0;
    for (const auto& t : tensors) total += t.nbytes;
    out.reserve(file.size() - total);
    for (const auto& t : tensors) {
        out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(pos),
                   file.begin() + static_cast<std::ptrdiff_t>(t.offset));
        pos = t.offset + t.nbytes;
    }
    out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(pos), file.end());
    return out;
}

parsed_file parse_raw_f32(byte_span file) {
    LMGC_CHECK(file.size() % 4 == 0, errc::bad_input, "raw: file size ", file.size(),
               " is not a multiple of 4 (raw input is little-endian float32)");
    parsed_file pf;
    pf.format = source_format::raw;
    if (!file.empty()) {
        tensor_region t;
        t.name = "data";
        t.type = dtype::f32;
        t.shape = {static_cast<std::int64_t>(file.size() / 4)};
        t.offset = 0;
        t.nbytes = file.size();
        pf.tensors.push_back(std::move(t));
    }
    return pf;
}

parsed_file parse_tensor_file(byte_span file, input_format format, const read_options& opt) {
    switch (format) {
    case input_format::npy:
        return parse_npy(file, opt);
    case input_format::safetensors:
        return parse_safetensors(file);
    case input_format::torch:
        return parse_torch(file);
    case input_format::raw:
        return parse_raw_f32(file);
    case input_format::auto_detect:
        break;
    }
    LMGC_CHECK(!file.empty(), errc::bad_input, "empty file (use --raw for raw float32 data)");
    const auto f = sniff_format(file);
    LMGC_CHECK(f.has_value(), errc::bad_input,
               "unrecognized file format (expected .npy, .safetensors or a torch.save zip; "
               "use --raw for raw little-endian float32)");
    return parse_tensor_file(file, *f, opt);
}

std::optional<input_format> sniff_format(byte_span prefix) {
    static constexpr std::uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    static constexpr std::uint8_t zip_magic[4] = {'P', 'K', 3, 4};
    if (prefix.size() >= 6 && std::memcmp(prefix.data(), npy_magic, 6) == 0)
        return input_format::npy;
    if ((prefix.size() >= 4 && std::memcmp(prefix.data(), zip_magic, 4) == 0) ||
        looks_like_legacy_torch(prefix))
        return input_format::torch;
    // safetensors: u64 header length (at most the readers' 100 MB), then a JSON object.
    if (prefix.size() >= 9) {
        const auto n = load_le<std::uint64_t>(prefix.data());
        if (n >= 2 && n <= (std::uint64_t{100} << 20) && prefix[8] == '{')
            return input_format::safetensors;
    }
    return std::nullopt;
}

} // namespace lmgc::detail
