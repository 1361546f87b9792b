// Recursive-descent JSON parser (RFC 8259) with depth limit, and a compact writer.
#include "common/common-json.hpp"

#include "common/common-error.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace lmgc::detail {

json_value json_value::make_bool(bool b) {
    json_value v;
    v.kind_ = kind::boolean;
    v.bool_ = b;
    return v;
}
json_value json_value::make_number(double d, std::string text) {
    json_value v;
    v.kind_ = kind::number;
    v.num_ = d;
    if (text.empty()) {
        char buf[64];
        if (std::floor(d) == d && std::fabs(d) < 9e15)
            std::snprintf(buf, sizeof buf, "%.0f", d);
        else
            std::snprintf(buf, sizeof buf, "%.17g", d);
        text = buf;
    }
    v.str_ = std::move(text);
    return v;
}
json_value json_value::make_string(std::string s) {
    json_value v;
    v.kind_ = kind::string;
    v.str_ = std::move(s);
    return v;
}
json_value json_value::make_array(array a) {
    json_value v;
    v.kind_ = kind::array;
    v.arr_ = std::make_shared<array>(std::move(a));
    return v;
}
json_value json_value::make_object(object o) {
    json_value v;
    v.kind_ = kind::object;
    v.obj_ = std::make_shared<object>(std::move(o));
    return v;
}

bool json_value::as_bool(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::boolean, errc::bad_input, what, ": expected true or false");
    return bool_;
}
double json_value::as_double(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::number, errc::bad_input, what, ": expected a number");
    return num_;
}
std::int64_t json_value::as_int(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::number, errc::bad_input, what, ": expected an integer");
    std::int64_t v = 0;
    const char* b = str_.data();
    const char* e = b + str_.size();
    const auto r = std::from_chars(b, e, v);
    LMGC_CHECK(r.ec == std::errc() && r.ptr == e, errc::bad_input, what,
               ": expected an integer, got ", str_);
    return v;
}
std::uint64_t json_value::as_uint(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::number, errc::bad_input, what, ": expected an integer");
    std::uint64_t v = 0;
    const char* b = str_.data();
    const char* e = b + str_.size();
    const auto r = std::from_chars(b, e, v);
    LMGC_CHECK(r.ec == std::errc() && r.ptr == e, errc::bad_input, what,
               ": expected a non-negative integer, got ", str_);
    return v;
}
const std::string& json_value::as_string(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::string, errc::bad_input, what, ": expected a string");
    return str_;
}
const json_value::array& json_value::as_array(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::array, errc::bad_input, what, ": expected an array");
    return *arr_;
}
const json_value::object& json_value::as_object(std::string_view what) const {
    LMGC_CHECK(kind_ == kind::object, errc::bad_input, what, ": expected an object");
    return *obj_;
}
const json_value* json_value::find(std::string_view key) const {
    if (kind_ != kind::object) return nullptr;
    for (const auto& [k, v] : *obj_)
        if (k == key) return &v;
    return nullptr;
}
const json_value& json_value::at(std::string_view key) const {
    const auto* v = find(key);
    LMGC_CHECK(v != nullptr, errc::bad_input, "missing key \"", key, "\"");
    return *v;
}
void json_value::push_back(json_value v) {
    if (kind_ == kind::null) *this = make_array();
    LMGC_ASSERT(kind_ == kind::array);
    arr_->push_back(std::move(v));
}
void json_value::set(std::string key, json_value v) {
    if (kind_ == kind::null) *this = make_object();
    LMGC_ASSERT(kind_ == kind::object);
    for (auto& [k, old] : *obj_)
        if (k == key) {
            old = std::move(v);
            return;
        }
    obj_->emplace_back(std::move(key), std::move(v));
}

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out.push_back(ch);
            }
        }
    }
    out.push_back('"');
    return out;
}

std::string json_value::dump() const {
    switch (kind_) {
    case kind::null:
        return "null";
    case kind::boolean:
        return bool_ ? "true" : "false";
    case kind::number:
        return str_;
    case kind::string:
        return json_quote(str_);
    case kind::array: {
        std::string s = "[";
        for (std::size_t i = 0; i < arr_->size(); ++i) {
            if (i) s += ',';
            s += (*arr_)[i].dump();
        }
        return s + "]";
    }
    case kind::object: {
        std::string s = "{";
        for (std::size_t i = 0; i < obj_->size(); ++i) {
            if (i) s += ',';
            s += json_quote((*obj_)[i].first) + ":" + (*obj_)[i].second.dump();
        }
        return s + "}";
    }
    }
    return "null";
}

namespace {

class parser {
  public:
    parser(std::string_view text, std::string_view what) : s_(text), what_(what) {}

    json_value parse_document() {
        skip_ws();
        json_value v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected trailing characters");
        return v;
    }

  private:
    std::string_view s_;
    std::string_view what_;
    std::size_t pos_ = 0;

    [[noreturn]] void fail(const char* why) const {
        LMGC_FAIL(errc::bad_input, what_, ": ", why, " at offset ", pos_);
    }
    void skip_ws() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void expect(char c) {
        if (peek() != c) fail(c == ':' ? "expected ':'" : "unexpected character");
        ++pos_;
    }
    bool consume_literal(std::string_view lit) {
        if (s_.substr(pos_, lit.size()) != lit) return false;
        pos_ += lit.size();
        return true;
    }

    json_value parse_value(int depth) {
        if (depth > 64) fail("nesting too deep");
        const char c = peek();
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') return json_value::make_string(parse_string());
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        if (consume_literal("true")) return json_value::make_bool(true);
        if (consume_literal("false")) return json_value::make_bool(false);
        if (consume_literal("null")) return json_value{};
        if (pos_ >= s_.size()) fail("unexpected end of text");
        fail("unexpected character");
    }

    json_value parse_object(int depth) {
        expect('{');
        json_value::object obj;
        skip_ws();
        if (peek() == '}') {
            ++pos_;
            return json_value::make_object(std::move(obj));
        }
        for (;;) {
            skip_ws();
            if (peek() != '"') fail("expected a string key");
            std::string key = parse_string();
            for (const auto& kv : obj)
                if (kv.first == key) fail("duplicate key");
            skip_ws();
            expect(':');
            skip_ws();
            obj.emplace_back(std::move(key), parse_value(depth + 1));
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                return json_value::make_object(std::move(obj));
            }
            fail("expected ',' or '}'");
        }
    }

    json_value parse_array(int depth) {
        expect('[');
        json_value::array arr;
        skip_ws();
        if (peek() == ']') {
            ++pos_;
            return json_value::make_array(std::move(arr));
        }
        for (;;) {
            skip_ws();
            arr.push_back(parse_value(depth + 1));
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') {
                ++pos_;
                return json_value::make_array(std::move(arr));
            }
            fail("expected ',' or ']'");
        }
    }

    unsigned parse_hex4() {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("bad \\u escape");
        }
        return v;
    }

    static void append_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated string");
            const char e = s_[pos_++];
            switch (e) {
            case '"':
                out.push_back('"');
                break;
            case '\\':
                out.push_back('\\');
                break;
            case '/':
                out.push_back('/');
                break;
            case 'b':
                out.push_back('\b');
                break;
            case 'f':
                out.push_back('\f');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'u': {
                unsigned cp = parse_hex4();
                if (cp >= 0xD800 && cp < 0xDC00) {
                    if (!(consume_literal("\\u"))) fail("unpaired surrogate");
                    const unsigned lo = parse_hex4();
                    if (lo < 0xDC00 || lo >= 0xE000) fail("unpaired surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    fail("unpaired surrogate");
                }
                append_utf8(out, cp);
                break;
            }
            default:
                fail("bad escape");
            }
        }
    }

    json_value parse_number() {
        const std::size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9') ++pos_;
        } else {
            fail("bad number");
        }
        if (peek() == '.') {
            ++pos_;
            if (!(peek() >= '0' && peek() <= '9')) fail("bad number");
            while (peek() >= '0' && peek() <= '9') ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!(peek() >= '0' && peek() <= '9')) fail("bad number");
            while (peek() >= '0' && peek() <= '9') ++pos_;
        }
        std::string text(s_.substr(start, pos_ - start));
        double d = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), d);
        if (r.ec == std::errc::invalid_argument) fail("bad number");
        // Out-of-range doubles keep their text; as_double gives +-inf/0 via from_chars' result.
        return json_value::make_number(d, std::move(text));
    }
};

} // namespace

json_value json_parse(std::string_view text, std::string_view what) {
    return parser(text, what).parse_document();
}

} // namespace lmgc::detail
