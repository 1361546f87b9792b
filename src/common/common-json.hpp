// A small JSON reader and writer for safetensors headers, Hugging Face config.json files and
// bench output. Ours rather than a package's so the LLM prior builds where only LibTorch is
// installed. Objects keep their key order (safetensors tensor order matters). Any file may
// include this.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lmgc::detail {

class json_value {
  public:
    using array = std::vector<json_value>;
    using object = std::vector<std::pair<std::string, json_value>>;
    enum class kind { null, boolean, number, string, array, object };

    json_value() = default;
    static json_value make_bool(bool b);
    static json_value make_number(double v, std::string text = {});
    static json_value make_string(std::string s);
    static json_value make_array(array a = {});
    static json_value make_object(object o = {});

    kind type() const { return kind_; }
    bool is_null() const { return kind_ == kind::null; }
    bool is_number() const { return kind_ == kind::number; }
    bool is_string() const { return kind_ == kind::string; }
    bool is_array() const { return kind_ == kind::array; }
    bool is_object() const { return kind_ == kind::object; }
    bool is_bool() const { return kind_ == kind::boolean; }

    // Accessors throw lmgc::error(bad_input) naming `what` when the type is wrong.
    bool as_bool(std::string_view what = "value") const;
    double as_double(std::string_view what = "value") const;
    // An integer number; rejects fractions, exponents and values outside int64.
    std::int64_t as_int(std::string_view what = "value") const;
    std::uint64_t as_uint(std::string_view what = "value") const;
    const std::string& as_string(std::string_view what = "value") const;
    const array& as_array(std::string_view what = "value") const;
    const object& as_object(std::string_view what = "value") const;
    // The literal text of a number as it appeared in the input.
    const std::string& number_text() const { return str_; }

    // Object lookup: nullptr when absent (or when this is not an object).
    const json_value* find(std::string_view key) const;
    // Object lookup that throws bad_input "missing key" when absent.
    const json_value& at(std::string_view key) const;

    // Mutation for building documents.
    void push_back(json_value v);
    void set(std::string key, json_value v);

    // Compact serialization (no spaces); numbers keep their text when parsed.
    std::string dump() const;

  private:
    kind kind_ = kind::null;
    bool bool_ = false;
    double num_ = 0;
    std::string str_; // string value, or number text
    std::shared_ptr<array> arr_;
    std::shared_ptr<object> obj_;
};

// Parses a whole JSON text. Throws lmgc::error(bad_input, "<what>: ... at offset N").
// Nesting is limited to 64 levels; duplicate keys are an error.
json_value json_parse(std::string_view text, std::string_view what = "JSON");

// Quotes and escapes s as a JSON string.
std::string json_quote(std::string_view s);

} // namespace lmgc::detail
