#include "geoipd/schema.hpp"

#include <gtest/gtest.h>

using namespace signpost::geoipd;

TEST(DatabaseSpec, PlainPath) {
    std::string err;
    auto s = DatabaseSpec::parse("/var/lib/geo/x.mmdb", err);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->path, "/var/lib/geo/x.mmdb");
    EXPECT_TRUE(s->overrides.empty());
}

TEST(DatabaseSpec, FieldOverrides) {
    std::string err;
    auto s = DatabaseSpec::parse("x.mmdb,country=cc,asn=as.number", err);
    ASSERT_TRUE(s) << err;
    ASSERT_EQ(s->overrides.size(), 2u);
    EXPECT_EQ(s->overrides[0].first, Field::kCountry);
    EXPECT_EQ(s->overrides[0].second.dotted(), "cc");
    EXPECT_EQ(s->overrides[1].second.dotted(), "as.number");
}

TEST(DatabaseSpec, BadOverridesNameTheProblem) {
    std::string err;
    EXPECT_FALSE(DatabaseSpec::parse("x.mmdb,city=a", err));
    EXPECT_NE(err.find("city=a"), std::string::npos);
    EXPECT_FALSE(DatabaseSpec::parse("x.mmdb,country=", err));
    EXPECT_FALSE(DatabaseSpec::parse("x.mmdb,country=a..b", err));
    EXPECT_FALSE(DatabaseSpec::parse("x.mmdb,country=a.", err));
    EXPECT_FALSE(DatabaseSpec::parse(",country=a", err));
}

TEST(FieldPath, PreparesNullTerminatedArray) {
    auto p = FieldPath::parse("location.latitude");
    ASSERT_TRUE(p);
    auto copy = *p;  // copies must rebuild their pointers, not share the original's
    EXPECT_STREQ(copy.c_path()[0], "location");
    EXPECT_STREQ(copy.c_path()[1], "latitude");
    EXPECT_EQ(copy.c_path()[2], nullptr);
}
