#include "common/json.hpp"

#include <gtest/gtest.h>

#include <map>

namespace json = signpost::common::json;

TEST(Json, EscapesEverythingUnsafe) {
    std::string out;
    json::append_string(out, std::string("a\"b\\c\n\x01\x7f", 8));
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
}

TEST(Json, KeepsValidUtf8AndReplacesInvalidBytes) {
    std::string out;
    json::append_string(out, "Telef\xc3\xb3nica \xe6\x97\xa5\xf0\x9f\x98\x80");
    EXPECT_EQ(out, "\"Telef\xc3\xb3nica \xe6\x97\xa5\xf0\x9f\x98\x80\"");
    out.clear();
    // A lone continuation byte, a truncated sequence, an overlong form, a surrogate.
    json::append_string(out,
                        "a\x80"
                        "b\xc3"
                        "c\xc0\xaf"
                        "d\xed\xa0\x80");
    EXPECT_EQ(out, "\"a\\ufffdb\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffd\"");
}

TEST(Json, ReadsFlatObjectsAndSkipsNested) {
    std::map<std::string, std::string> seen;
    auto err = json::for_each_member(
        R"({"a":"x\"y","b":12.5,"c":null,"d":true,"e":{"f":[1,{"g":2}]},"h":"\u00e9"})",
        [&](std::string_view k, const json::Value& v) {
            seen[std::string(k)] = v.type == json::Type::kString ? v.str : std::string(v.raw);
        });
    EXPECT_EQ(err, "");
    EXPECT_EQ(seen["a"], "x\"y");
    EXPECT_EQ(seen["b"], "12.5");
    EXPECT_EQ(seen["c"], "null");
    EXPECT_EQ(seen["d"], "true");
    EXPECT_EQ(seen["e"], R"({"f":[1,{"g":2}]})");
    EXPECT_EQ(seen["h"], "\xc3\xa9");
}

TEST(Json, RejectsMalformed) {
    auto noop = [](std::string_view, const json::Value&) {};
    for (const char* bad : {"", "{", "[]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x",
                            "{\"a\":\"unterminated}", "{\"a\":\"\\q\"}", "{\"a\":[1,2}"}) {
        EXPECT_NE(json::for_each_member(bad, noop), "") << bad;
    }
    std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
    EXPECT_NE(json::for_each_member(deep, noop), "");
}
