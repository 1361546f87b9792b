// .npy reader (format versions 1.0, 2.0, 3.0): parses the header's Python dict literal and
// locates the array data. The header itself stays in the skeleton, so files round-trip exactly.
#include "io/io-tensor-file.hpp"

#include <charconv>
#include <cstring>
#include <optional>

namespace lmgc::detail {
namespace {

// A tiny reader for the dict literal numpy writes: {'descr': '<f4', 'fortran_order': False,
// 'shape': (3, 4), }
class py_literal_reader {
  public:
    explicit py_literal_reader(std::string_view s) : s_(s) {}

    struct header {
        std::optional<std::string> descr;
        std::optional<bool> fortran_order;
        std::optional<std::vector<std::int64_t>> shape;
    };

    header parse() {
        header h;
        ws();
        expect('{');
        for (;;) {
            ws();
            if (peek() == '}') {
                ++pos_;
                break;
            }
            const std::string key = string_lit();
            ws();
            expect(':');
            ws();
            if (key == "descr") {
                if (peek() == '[') fail("structured dtypes are not supported");
                h.descr = string_lit();
            } else if (key == "fortran_order") {
                h.fortran_order = bool_lit();
            } else if (key == "shape") {
                h.shape = tuple_lit();
            } else {
                fail("unknown header key");
            }
            ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            ws();
            if (peek() == '}') {
                ++pos_;
                break;
            }
            fail("expected ',' or '}'");
        }
        ws();
        if (pos_ != s_.size()) fail("junk after the header dict");
        return h;
    }

  private:
    std::string_view s_;
    std::size_t pos_ = 0;

    [[noreturn]] void fail(const char* why) const {
        LMGC_FAIL(errc::bad_input, "npy: bad header (", why, " at header offset ", pos_, ")");
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
            ++pos_;
    }
    void expect(char c) {
        if (peek() != c) fail("unexpected character");
        ++pos_;
    }
    std::string string_lit() {
        const char q = peek();
        if (q != '\'' && q != '"') fail("expected a string");
        ++pos_;
        const std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] != q) {
            if (s_[pos_] == '\\') fail("escapes are not supported");
            ++pos_;
        }
        if (pos_ >= s_.size()) fail("unterminated string");
        std::string out(s_.substr(start, pos_ - start));
        ++pos_;
        return out;
    }
    bool bool_lit() {
        if (s_.substr(pos_, 4) == "True") {
            pos_ += 4;
            return true;
        }
        if (s_.substr(pos_, 5) == "False") {
            pos_ += 5;
            return false;
        }
        fail("expected True or False");
    }
    std::vector<std::int64_t> tuple_lit() {
        expect('(');
        std::vector<std::int64_t> dims;
        for (;;) {
            ws();
            if (peek() == ')') {
                ++pos_;
                return dims;
            }
            const char* b = s_.data() + pos_;
            const char* e = s_.data() + s_.size();
            std::int64_t v = 0;
            const auto r = std::from_chars(b, e, v);
            if (r.ec != std::errc()) fail("expected an integer dimension");
            if (v < 0) fail("negative dimension");
            pos_ += static_cast<std::size_t>(r.ptr - b);
            if (peek() == 'L') ++pos_; // Python 2 long suffix
            dims.push_back(v);
            if (dims.size() > 64) fail("too many dimensions");
            ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            ws();
            if (peek() != ')') fail("expected ',' or ')'");
        }
    }
};

struct npy_dtype {
    dtype type;
    bool big_endian;
    std::int64_t extra_dim; // complex numbers: 2 floats per element
};

npy_dtype parse_descr(const std::string& descr, const read_options& opt) {
    LMGC_CHECK(descr.size() >= 2, errc::bad_input, "npy: bad dtype '", descr, "'");
    const char order = descr[0];
    LMGC_CHECK(order == '<' || order == '>' || order == '|' || order == '=', errc::bad_input,
               "npy: bad byte order in dtype '", descr, "'");
    const std::string code = descr.substr(1);
    struct row {
        const char* code;
        dtype type;
        std::int64_t extra;
    };
    static constexpr row rows[] = {
        {"f8", dtype::f64, 0},     {"f4", dtype::f32, 0}, {"f2", dtype::f16, 0},
        {"V2", dtype::bf16, 0},    {"i1", dtype::i8, 0},  {"u1", dtype::u8, 0},
        {"i2", dtype::i16, 0},     {"u2", dtype::u16, 0}, {"i4", dtype::i32, 0},
        {"u4", dtype::u32, 0},     {"i8", dtype::i64, 0}, {"u8", dtype::u64, 0},
        {"b1", dtype::boolean, 0}, {"c8", dtype::f32, 2}, {"c16", dtype::f64, 2},
    };
    for (const auto& r : rows) {
        if (code != r.code) continue;
        dtype t = r.type;
        if (t == dtype::u16 && opt.u2_as_bf16) t = dtype::bf16;
        return {t, order == '>' && dtype_size(t) > 1, r.extra};
    }
    LMGC_FAIL(errc::unsupported, "npy: dtype '", descr, "' is not supported");
}

} // namespace

parsed_file parse_npy(byte_span file, const read_options& opt) {
    static constexpr std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    LMGC_CHECK(file.size() >= 10 && std::memcmp(file.data(), magic, 6) == 0, errc::bad_input,
               "npy: not a .npy file (bad magic)");
    const unsigned major = file[6];
    const unsigned minor = file[7];
    LMGC_CHECK(major >= 1 && major <= 3 && minor == 0, errc::unsupported, "npy: format version ",
               major, ".", minor, " is not supported");
    std::size_t header_len = 0;
    std::size_t header_start = 0;
    if (major == 1) {
        header_len = load_le<std::uint16_t>(file.data() + 8);
        header_start = 10;
    } else {
        LMGC_CHECK(file.size() >= 12, errc::bad_input, "npy: truncated header");
        header_len = load_le<std::uint32_t>(file.data() + 8);
        header_start = 12;
    }
    LMGC_CHECK(header_len <= file.size() - header_start, errc::bad_input, "npy: header length ",
               header_len, " runs past the end of the file");
    const std::string_view text(reinterpret_cast<const char*>(file.data() + header_start),
                                header_len);
    const auto h = py_literal_reader(text).parse();
    LMGC_CHECK(h.descr && h.fortran_order && h.shape, errc::bad_input,
               "npy: header lacks descr, fortran_order or shape");
    const auto dt = parse_descr(*h.descr, opt);

    tensor_region t;
    t.name = "array";
    t.type = dt.type;
    t.shape = *h.shape;
    if (dt.extra_dim) t.shape.push_back(dt.extra_dim);
    t.big_endian = dt.big_endian;
    t.fortran_order = *h.fortran_order;
    t.offset = header_start + header_len;
    const std::uint64_t n = shape_elements(t.shape, "npy");
    const std::uint64_t need = n * dtype_size(t.type);
    const std::uint64_t have = file.size() - t.offset;
    LMGC_CHECK(need <= have, errc::bad_input, "npy: shape needs ", need,
               " bytes of data but the file has ", have);
    t.nbytes = need;

    parsed_file pf;
    pf.format = source_format::npy;
    if (need > 0) pf.tensors.push_back(std::move(t)); // an empty array is all skeleton
    return pf;
}

} // namespace lmgc::detail
