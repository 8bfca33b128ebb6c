#include "common/geo_answer.hpp"

#include <gtest/gtest.h>

using namespace signpost::common;

TEST(GeoAnswer, RoundTripsThroughJson) {
    GeoAnswer a;
    a.ip = *IpAddress::parse("2001:db8:1::5");
    a.prefix = *Prefix::parse("2001:db8:1::/63");
    a.found = true;
    a.country = "DE";
    a.continent = "EU";
    a.asn = 64510;
    a.as_org = "Example \"quoted\" \\ org";
    a.has_location = true;
    a.latitude = 51.3;
    a.longitude = -9.49;
    a.accuracy_radius = 25;
    a.generation = 42;
    std::string line;
    append_answer_json(line, view_of(a));
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    GeoAnswer b;
    EXPECT_EQ(parse_answer_json(line, b), "");
    EXPECT_EQ(a, b);
}

TEST(GeoAnswer, NotFoundHasNullsAndPrefix) {
    GeoAnswer a;
    a.ip = *IpAddress::parse("10.9.9.9");
    a.prefix = *Prefix::parse("10.0.0.0/8");
    std::string line;
    append_answer_json(line, view_of(a));
    EXPECT_NE(line.find("\"found\":false"), std::string::npos);
    EXPECT_NE(line.find("\"country\":null"), std::string::npos);
    GeoAnswer b;
    line.pop_back();
    EXPECT_EQ(parse_answer_json(line, b), "");
    EXPECT_EQ(a, b);
}

TEST(GeoAnswer, ServerErrorsAndGarbageAreDistinguished) {
    GeoAnswer b;
    EXPECT_EQ(parse_answer_json(R"({"error":"bad address","input":"x"})", b),
              "geoipd: bad address");
    EXPECT_NE(parse_answer_json("garbage", b).find("malformed"), std::string::npos);
    EXPECT_NE(parse_answer_json(R"({"ip":"1.2.3.4"})", b).find("missing"), std::string::npos);
    // A prefix that does not contain the address would poison a prefix cache.
    EXPECT_NE(
        parse_answer_json(R"({"ip":"1.2.3.4","prefix":"5.0.0.0/8"})", b).find("does not contain"),
        std::string::npos);
    EXPECT_NE(parse_answer_json(R"({"ip":"1.2.3.4","prefix":"1.2.3.4/24"})", b).find("bad value"),
              std::string::npos);
    EXPECT_NE(
        parse_answer_json(R"({"ip":"1.2.3.4","prefix":"1.0.0.0/8","asn":"x"})", b).find("asn"),
        std::string::npos);
}

TEST(GeoAnswer, FastPathAndGenericReaderAgree) {
    using namespace signpost::common;
    const char* lines[] = {
        // geoipd's canonical form (the fast path)
        R"({"ip":"81.2.69.142","prefix":"81.2.69.0/24","found":true,"country":"GB","continent":"EU","asn":20712,"as_org":"Andrews & Arnold Ltd","latitude":51.5,"longitude":-0.09,"accuracy_radius":20,"generation":3})",
        R"({"ip":"2001:db8::1","prefix":"2001:db8::/32","found":false,"country":null,"continent":null,"asn":null,"as_org":null,"latitude":null,"longitude":null,"accuracy_radius":null,"generation":1})",
        // the same facts in other shapes (the generic reader)
        R"({"prefix":"81.2.69.0/24","ip":"81.2.69.142","accuracy_radius":20,"found":true,"country":"GB","continent":"EU","asn":20712,"as_org":"Andrews \u0026 Arnold Ltd","latitude":51.5,"longitude":-0.09,"generation":3})",
        R"({ "ip": "81.2.69.142", "prefix": "81.2.69.0/24", "found": true, "country": "GB", "continent": "EU", "asn": 20712, "as_org": "Andrews & Arnold Ltd", "latitude": 51.5, "longitude": -0.09, "accuracy_radius": 20, "generation": 3 })",
        // malformed in ways the fast path must hand over to the generic reader's verdict
        R"({"ip":"81.2.69.142","prefix":"10.0.0.0/8","found":true,"country":null,"continent":null,"asn":null,"as_org":null,"latitude":null,"longitude":null,"generation":3})",
        R"({"ip":"81.2.69.142","prefix":"81.2.69.0/24","found":true,"country":null,"continent":null,"asn":1.5,"as_org":null,"latitude":null,"longitude":null,"generation":3})",
        R"({"ip":"81.2.69.142","prefix":"81.2.69.0/24","found":true,"country":null,"continent":null,"asn":null,"as_org":null,"latitude":inf,"longitude":null,"generation":3})",
        R"({"ip":"81.2.69.142","prefix":"81.2.69.0/24","found":true,"country":null,"continent":null,"asn":null,"as_org":null,"latitude":1,"longitude":null,"generation":3} )",
        // found by the fuzzer: a number starting with '.' (from_chars takes it; JSON does not)
        R"({"ip":"81.2.69.142","prefix":"81.2.69.0/25","found":true,"country":"GB","continent":"EU","asn":20712,"as_org":"x","latitude":.155,"longitude":-0.09,"generation":3})",
    };
    GeoAnswer first;
    ASSERT_EQ(parse_answer_json(lines[0], first), "");
    for (const char* l : lines) {
        GeoAnswer a, g;
        const std::string e1 = parse_answer_json(l, a), e2 = parse_answer_json_generic(l, g);
        EXPECT_EQ(e1, e2) << l;
        if (e1.empty()) {
            EXPECT_EQ(a, g) << l;
        }
    }
    GeoAnswer reordered;
    ASSERT_EQ(parse_answer_json(lines[2], reordered), "");
    EXPECT_EQ(reordered, first);
    EXPECT_EQ(first.as_org, "Andrews & Arnold Ltd");
    EXPECT_TRUE(first.has_location);
    EXPECT_EQ(first.accuracy_radius, 20u);
    // Lines from before the accuracy radius (no such key) still read, radius unknown.
    GeoAnswer old;
    ASSERT_EQ(
        parse_answer_json(
            R"({"ip":"81.2.69.142","prefix":"81.2.69.0/24","found":true,"country":"GB","continent":"EU","asn":20712,"as_org":"Andrews & Arnold Ltd","latitude":51.5,"longitude":-0.09,"generation":3})",
            old),
        "");
    EXPECT_EQ(old.accuracy_radius, 0u);
    EXPECT_EQ(old.latitude, 51.5);
    GeoAnswer bad;
    EXPECT_NE(parse_answer_json(lines[4], bad), "");
    EXPECT_NE(parse_answer_json(lines[5], bad), "");
}

// Plain, escaped, non-ASCII and over-long AS names (the writer has a fast path
// for short plain ones) all round-trip, with the same bytes for the same facts.
TEST(GeoAnswer, EveryKindOfNameRoundTrips) {
    const std::string names[] = {"Plain Org",
                                 "Telef\xc3\xb3nica",
                                 "tab\there",
                                 "\"q\"",
                                 std::string(256, 'x'),
                                 std::string(257, 'y'),
                                 std::string(600, 'z') + "\\"};
    for (const auto& name : names) {
        GeoAnswer a;
        a.ip = *IpAddress::parse("192.0.2.77");
        a.prefix = *Prefix::parse("192.0.2.0/25");
        a.found = true;
        a.country = "NL";
        a.asn = 4200000000u;
        a.as_org = name;
        a.has_location = true;
        a.latitude = -33.8688;
        a.longitude = 151.2093;
        a.generation = 18446744073709551615ULL;
        std::string line;
        append_answer_json(line, view_of(a));
        ASSERT_EQ(line.back(), '\n');
        line.pop_back();
        GeoAnswer b, c;
        EXPECT_EQ(parse_answer_json(line, b), "") << line;
        EXPECT_EQ(parse_answer_json_generic(line, c), "") << line;
        EXPECT_EQ(a, b);
        EXPECT_EQ(a, c);
    }
}
