// The public serialize calls: tensor files to the paper's text and back.
#include "serialize/serialize-streams.hpp"

#include "common/common-error.hpp"

#include <cstring>
#include <map>

namespace lmgc {
namespace detail {

std::vector<tensor_stream> tensor_streams(byte_span file, const parsed_file& pf) {
    std::vector<tensor_stream> out;
    std::map<dtype, std::size_t> index;
    for (const auto& t : pf.tensors) {
        auto it = index.find(t.type);
        if (it == index.end()) {
            it = index.emplace(t.type, out.size()).first;
            out.push_back({t.type, {}, {}});
        }
        auto& s = out[it->second];
        const auto at = s.data.size();
        s.data.insert(s.data.end(), file.begin() + static_cast<std::ptrdiff_t>(t.offset),
                      file.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
        if (t.big_endian)
            swap_bytes_inplace(std::span(s.data).subspan(at, t.nbytes), dtype_size(t.type));
        s.parts.push_back(&t);
    }
    return out;
}

parsed_file parse_for_serialize(byte_span file, const experimental::serialize_params& params) {
    read_options ropt;
    ropt.u2_as_bf16 = params.u2_as_bf16;
    return parse_tensor_file(file, params.format, ropt);
}

serial_params serial_params_from(const experimental::serialize_params& params, dtype type) {
    serial_params p;
    const auto m = serial_mode_from_name(params.mode);
    std::string names;
    for (const auto mm : serial_modes_all()) {
        if (!names.empty()) names += ", ";
        names += serial_mode_name(mm);
    }
    LMGC_CHECK(m.has_value(), errc::usage, "unknown serialization mode '", params.mode,
               "' (modes: ", names, ")");
    p.mode = *m;
    p.bytes_per_group = params.bytes_per_group;
    p.order = params.big_endian ? serial_byte_order::big : serial_byte_order::little;
    p.chunk_bytes = params.chunk_bytes;
    p.type = type;
    serial_params_check(p);
    return p;
}

} // namespace detail

namespace experimental {

using namespace detail;

serialize_params default_serialize_params() {
    serialize_params p;
    p.mode = "hex-space";
    p.bytes_per_group = 4;
    p.big_endian = false;
    p.chunk_bytes = 512;
    p.format = input_format::auto_detect;
    p.u2_as_bf16 = false;
    return p;
}

std::vector<std::string> serialize_modes() {
    std::vector<std::string> out;
    for (const auto m : serial_modes_all()) out.emplace_back(serial_mode_name(m));
    return out;
}

std::string serialize_tensors(std::span<const std::uint8_t> file, const serialize_params& params) {
    const parsed_file pf = parse_for_serialize(file, params);
    std::string out;
    for (const auto& s : tensor_streams(file, pf))
        out += serialize_stream_lines(s.data, serial_params_from(params, s.type));
    return out;
}

std::vector<std::uint8_t> deserialize_tensors(std::string_view text,
                                              std::span<const std::uint8_t> like,
                                              const serialize_params& params) {
    const parsed_file pf = parse_for_serialize(like, params);
    std::vector<std::uint8_t> out(like.begin(), like.end());
    std::size_t at = 0;
    for (const auto& s : tensor_streams(like, pf)) {
        std::size_t used = 0;
        const bytes data = parse_stream_lines(text.substr(at), s.data.size(),
                                              serial_params_from(params, s.type), &used, at);
        at += used;
        std::uint64_t pos = 0;
        for (const auto* t : s.parts) {
            std::memcpy(out.data() + t->offset, data.data() + pos, t->nbytes);
            if (t->big_endian)
                swap_bytes_inplace(std::span(out).subspan(t->offset, t->nbytes),
                                   dtype_size(t->type));
            pos += t->nbytes;
        }
    }
    LMGC_CHECK(at == text.size(), errc::bad_input, "serialized text: offset ", at,
               ": text continues after the last chunk of the tensors of the --like file");
    return out;
}

} // namespace experimental
} // namespace lmgc
