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
