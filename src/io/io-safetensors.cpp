// .safetensors reader: u64 header length, a JSON header naming each tensor's dtype, shape and
// byte range, then the data. The JSON (and __metadata__) stays in the skeleton verbatim, so
// tensor order and metadata survive exactly.
#include "io/io-tensor-file.hpp"

#include "common/common-json.hpp"

#include <algorithm>

namespace lmgc::detail {
namespace {

dtype safetensors_dtype(const std::string& s, const std::string& name) {
    struct row {
        const char* code;
        dtype type;
    };
    static constexpr row rows[] = {
        {"F64", dtype::f64},      {"F32", dtype::f32},    {"F16", dtype::f16},
        {"BF16", dtype::bf16},    {"I8", dtype::i8},      {"U8", dtype::u8},
        {"I16", dtype::i16},      {"U16", dtype::u16},    {"I32", dtype::i32},
        {"U32", dtype::u32},      {"I64", dtype::i64},    {"U64", dtype::u64},
        {"BOOL", dtype::boolean}, {"F8_E4M3", dtype::u8}, {"F8_E5M2", dtype::u8},
    };
    for (const auto& r : rows)
        if (s == r.code) return r.type;
    LMGC_FAIL(errc::unsupported, "safetensors: tensor '", name, "' has unsupported dtype '", s,
              "'");
}

} // namespace

parsed_file parse_safetensors(byte_span file) {
    LMGC_CHECK(file.size() >= 8, errc::bad_input, "safetensors: file too short for a header");
    const auto n = load_le<std::uint64_t>(file.data());
    LMGC_CHECK(n <= file.size() - 8, errc::bad_input, "safetensors: header length ", n,
               " runs past the end of the file (", file.size(), " bytes)");
    LMGC_CHECK(n <= (std::uint64_t{100} << 20), errc::bad_input, "safetensors: header length ", n,
               " is over the 100 MB limit");
    const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), n);
    const auto doc = json_parse(text, "safetensors header");
    const auto& obj = doc.as_object("safetensors header");
    const std::uint64_t data_start = 8 + n;
    const std::uint64_t data_size = file.size() - data_start;

    parsed_file pf;
    pf.format = source_format::safetensors;
    for (const auto& [name, info] : obj) {
        if (name == "__metadata__") {
            for (const auto& [k, v] : info.as_object("safetensors __metadata__"))
                (void)v.as_string("safetensors __metadata__ value of '" + k + "'");
            continue;
        }
        const std::string what = "safetensors: tensor '" + name + "'";
        const auto& o = info.as_object(what);
        tensor_region t;
        t.name = name;
        t.type = safetensors_dtype(info.at("dtype").as_string(what + " dtype"), name);
        for (const auto& d : info.at("shape").as_array(what + " shape"))
            t.shape.push_back(d.as_int(what + " shape"));
        LMGC_CHECK(t.shape.size() <= 64, errc::bad_input, what, ": too many dimensions");
        const auto& offs = info.at("data_offsets").as_array(what + " data_offsets");
        LMGC_CHECK(offs.size() == 2, errc::bad_input, what, ": data_offsets needs 2 numbers");
        const auto begin = offs[0].as_uint(what + " data_offsets");
        const auto end = offs[1].as_uint(what + " data_offsets");
        LMGC_CHECK(begin <= end && end <= data_size, errc::bad_input, what, ": data_offsets [",
                   begin, ", ", end, "] outside the data (", data_size, " bytes)");
        (void)o;
        t.offset = data_start + begin;
        t.nbytes = end - begin;
        const auto elems = shape_elements(t.shape, what);
        LMGC_CHECK(elems * dtype_size(t.type) == t.nbytes, errc::bad_input, what, " has ", t.nbytes,
                   " bytes but shape and dtype need ", elems * dtype_size(t.type));
        pf.tensors.push_back(std::move(t));
    }
    std::stable_sort(pf.tensors.begin(), pf.tensors.end(),
                     [](const auto& a, const auto& b) { return a.offset < b.offset; });
    // Empty tensors carry no bytes; keep them out of the regions (the JSON keeps them).
    std::erase_if(pf.tensors, [](const tensor_region& t) { return t.nbytes == 0; });
    validate_regions(pf, file.size());
    return pf;
}

} // namespace lmgc::detail
