#include "geoipd/database_set.hpp"

#include <gtest/gtest.h>

using namespace signpost::geoipd;
using signpost::common::IpAddress;

namespace {
const std::string kData = SIGNPOST_TESTDATA;

// Built as geoipd builds it: the table compiled, then served from.
DatabaseSet make_set(std::initializer_list<const char*> files) {
    std::vector<std::shared_ptr<const Database>> dbs;
    for (const char* f : files) {
        std::string e;
        auto spec = DatabaseSpec::parse(kData + "/" + f, e);
        auto db = Database::open(*spec, e);
        EXPECT_TRUE(db) << e;
        dbs.push_back(std::move(db));
    }
    std::string error;
    auto set = DatabaseSet::build(std::move(dbs), 7, error);
    EXPECT_TRUE(set) << error;
    return DatabaseSet(set->databases(), set->generation(), set->table());
}
}  // namespace

TEST(DatabaseSet, PrefixIsTheMostSpecificOfAllDatabases) {
    auto set = make_set({"city.mmdb", "asn.mmdb"});
    // city says 81.2.69.0/24, asn says 81.2.69.128/25 (not found): /25 wins.
    auto f = set.lookup(*IpAddress::parse("81.2.69.142"));
    EXPECT_EQ(f.prefix.to_string(), "81.2.69.128/25");
    EXPECT_EQ(f.country, "GB");
    EXPECT_EQ(f.asn, 0u);
    f = set.lookup(*IpAddress::parse("81.2.69.1"));
    EXPECT_EQ(f.prefix.to_string(), "81.2.69.0/25");
    EXPECT_EQ(f.asn, 20712u);
    EXPECT_EQ(f.as_org, "Andrews & Arnold Ltd");
    EXPECT_EQ(f.generation, 7u);
}

TEST(DatabaseSet, FirstDatabaseWinsPerField) {
    auto a = make_set({"city.mmdb", "flat.mmdb"});
    EXPECT_EQ(a.lookup(*IpAddress::parse("10.0.0.1")).country, "US");
    auto b = make_set({"flat.mmdb", "city.mmdb"});
    auto f = b.lookup(*IpAddress::parse("10.0.0.1"));
    EXPECT_EQ(f.country, "CA");
    EXPECT_EQ(f.continent, "NA");  // from city.mmdb, the only one with continents
}

TEST(DatabaseSet, ContinentDerivedFromCountry) {
    auto set = make_set({"flat.mmdb"});
    auto f = set.lookup(*IpAddress::parse("203.0.113.1"));
    EXPECT_EQ(f.country, "NZ");
    EXPECT_EQ(f.continent, "OC");
    // The answer's strings live in the set's table: keep the set alive.
    auto city = make_set({"city.mmdb"});
    auto g = city.lookup(*IpAddress::parse("198.51.100.1"));
    EXPECT_EQ(g.continent, "SA");
}

TEST(DatabaseSet, NotFoundKeepsAPrefixThatContainsTheAddress) {
    auto set = make_set({"city.mmdb", "asn.mmdb", "v4only.mmdb"});
    for (const char* a : {"8.8.8.8", "1.1.1.1", "2606:4700::1111", "::1", "255.255.255.255"}) {
        auto ip = *IpAddress::parse(a);
        auto f = set.lookup(ip);
        EXPECT_FALSE(f.found) << a;
        EXPECT_TRUE(f.prefix.contains(ip)) << a << " " << f.prefix.to_string();
    }
}
