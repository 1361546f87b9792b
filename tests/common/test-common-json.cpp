#include "common/common-json.hpp"
#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

using namespace lmgc::detail;

TEST(common_json, parses_documents_and_keeps_key_order) {
    const auto v = json_parse(
        R"({"b": [1, 2.5, -3e2, true, null], "a": {"x": "y\u00e9\n"}, "c": 18446744073709551615})");
    const auto& o = v.as_object();
    ASSERT_EQ(o.size(), 3u);
    EXPECT_EQ(o[0].first, "b");
    EXPECT_EQ(o[1].first, "a");
    EXPECT_EQ(v.at("b").as_array()[0].as_int(), 1);
    EXPECT_DOUBLE_EQ(v.at("b").as_array()[1].as_double(), 2.5);
    EXPECT_DOUBLE_EQ(v.at("b").as_array()[2].as_double(), -300.0);
    EXPECT_TRUE(v.at("b").as_array()[3].as_bool());
    EXPECT_TRUE(v.at("b").as_array()[4].is_null());
    EXPECT_EQ(v.at("a").at("x").as_string(), "y\xc3\xa9\n");
    EXPECT_EQ(v.at("c").as_uint(), 18446744073709551615ull);
    EXPECT_THROW(v.at("c").as_int(), lmgc::error);
    EXPECT_THROW(v.at("b").as_array()[1].as_int(), lmgc::error);
    // dump/parse round trip
    EXPECT_EQ(json_parse(v.dump()).dump(), v.dump());
}

TEST(common_json, rejects_malformed_text) {
    for (const char* bad :
         {"", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "01", "1.", "\"abc", "{\"a\":1}x",
          "[\"\\x\"]", "{\"a\":1,\"a\":2}", "nul", "\"\\ud800\"", "[1 2]", "\"a\tb\""}) {
        EXPECT_THROW(json_parse(bad), lmgc::error) << bad;
    }
    std::string deep(100, '[');
    deep += std::string(100, ']');
    EXPECT_THROW(json_parse(deep), lmgc::error);
}
