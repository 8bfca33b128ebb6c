#include "geoipd/database.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace signpost::geoipd;
using signpost::common::IpAddress;

namespace {
const std::string kData = SIGNPOST_TESTDATA;

std::unique_ptr<Database> open_db(const std::string& path, std::string* error = nullptr) {
    std::string e;
    auto spec = DatabaseSpec::parse(path, e);
    auto db = Database::open(*spec, e);
    if (error) *error = e;
    return db;
}

std::string temp_copy(const std::string& from, const char* name) {
    auto to = std::filesystem::temp_directory_path() / (std::to_string(getpid()) + "-" + name);
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    return to.string();
}
}  // namespace

TEST(Database, DetectsGeoIP2CityLayout) {
    auto db = open_db(kData + "/city.mmdb");
    ASSERT_TRUE(db);
    EXPECT_EQ(db->schema()[Field::kCountry]->dotted(), "country.iso_code");
    EXPECT_EQ(db->schema()[Field::kContinent]->dotted(), "continent.code");
    EXPECT_EQ(db->schema()[Field::kLatitude]->dotted(), "location.latitude");
    EXPECT_FALSE(db->schema()[Field::kAsn]);
    EXPECT_EQ(db->schema().kind(), "city");
    EXPECT_EQ(db->build_epoch(), 1700000000u);
}

TEST(Database, DetectsAsnAndFlatLayouts) {
    auto asn = open_db(kData + "/asn.mmdb");
    ASSERT_TRUE(asn);
    EXPECT_EQ(asn->schema().kind(), "asn");
    auto flat = open_db(kData + "/flat.mmdb");
    ASSERT_TRUE(flat);
    EXPECT_EQ(flat->schema()[Field::kCountry]->dotted(), "country_code");
    EXPECT_FALSE(flat->schema()[Field::kContinent]);
    EXPECT_EQ(flat->schema().kind(), "country");
}

TEST(Database, NestedPrefixesAndMissingFields) {
    auto db = open_db(kData + "/city.mmdb");
    auto h = db->lookup(*IpAddress::parse("10.1.2.3"));
    EXPECT_TRUE(h.found);
    EXPECT_EQ(h.prefix_len, 24u);
    EXPECT_EQ(h.country, "FR");
    h = db->lookup(*IpAddress::parse("10.1.0.1"));
    EXPECT_EQ(h.prefix_len, 23u);  // 10.1/16 minus the 10.1.2/24 hole
    EXPECT_EQ(h.country, "DE");
    h = db->lookup(*IpAddress::parse("192.0.2.1"));
    EXPECT_EQ(h.country, "JP");
    EXPECT_FALSE(h.has_location);
    h = db->lookup(*IpAddress::parse("198.51.100.1"));
    EXPECT_EQ(h.country, "BR");
    EXPECT_EQ(h.continent, "");  // the database has none; DatabaseSet derives it
    h = db->lookup(*IpAddress::parse("2001:db8:1:2::1"));
    EXPECT_EQ(h.prefix_len, 64u);
    EXPECT_EQ(h.country, "FR");
    h = db->lookup(*IpAddress::parse("8.8.8.8"));
    EXPECT_FALSE(h.found);
    EXPECT_EQ(h.prefix_len, 7u);  // not found is an answer too, with its prefix
}

TEST(Database, Ipv6InIpv4OnlyDatabaseIsNotFoundEverywhere) {
    auto db = open_db(kData + "/v4only.mmdb");
    ASSERT_TRUE(db);
    EXPECT_EQ(db->ip_version(), 4u);
    auto h = db->lookup(*IpAddress::parse("203.0.113.9"));
    EXPECT_TRUE(h.found);
    EXPECT_EQ(h.prefix_len, 24u);
    h = db->lookup(*IpAddress::parse("2001:db8::1"));
    EXPECT_FALSE(h.found);
    EXPECT_EQ(h.prefix_len, 0u);
}

// The GeoIP2 layouts as MaxMind's own writer (MaxMind::DB::Writer, run by
// tests/data/gen-testdb.pl) lays them out: nested country and continent,
// the ASN database's number and organisation, the City database's location.
TEST(Database, ReadsTheGeoIP2LayoutsMaxMindsWriterMakes) {
    auto city = open_db(kData + "/city.mmdb");
    ASSERT_TRUE(city);
    EXPECT_EQ(city->schema().kind(), "city");
    auto h = city->lookup(*IpAddress::parse("81.2.69.142"));
    EXPECT_EQ(h.country, "GB");
    EXPECT_EQ(h.continent, "EU");
    EXPECT_TRUE(h.has_location);
    EXPECT_NEAR(h.latitude, 51.51, 1e-9);
    EXPECT_NEAR(h.longitude, -0.09, 1e-9);
    auto asn = open_db(kData + "/asn.mmdb");
    ASSERT_TRUE(asn);
    h = asn->lookup(*IpAddress::parse("81.2.69.1"));
    EXPECT_EQ(h.asn, 20712u);
    EXPECT_EQ(h.as_org, "Andrews & Arnold Ltd");
    EXPECT_EQ(h.prefix_len, 25u);
    h = asn->lookup(*IpAddress::parse("2001:db8::1"));
    EXPECT_EQ(h.asn, 64510u);
    EXPECT_EQ(h.as_org, "Example v6 Net");
}

TEST(Database, OverrideForcesAPath) {
    std::string e;
    auto spec = DatabaseSpec::parse(kData + "/city.mmdb,country=continent.code", e);
    auto db = Database::open(*spec, e);
    ASSERT_TRUE(db) << e;
    EXPECT_EQ(db->lookup(*IpAddress::parse("10.1.2.3")).country, "EU");
}

TEST(Database, RefusesTruncatedFiles) {
    const auto good = kData + "/city.mmdb";
    const auto size = std::filesystem::file_size(good);
    for (auto keep : {std::uintmax_t{0}, std::uintmax_t{16}, size / 2, size - 20}) {
        auto path = temp_copy(good, "truncated.mmdb");
        std::filesystem::resize_file(path, keep);
        std::string error;
        EXPECT_FALSE(open_db(path, &error)) << "kept " << keep << " bytes";
        EXPECT_NE(error.find(path), std::string::npos) << error;
        std::filesystem::remove(path);
    }
}

TEST(Database, RefusesCorruptSearchTree) {
    auto path = temp_copy(kData + "/city.mmdb", "corrupt.mmdb");
    {
        // Overwrite the first nodes with 0xff: every record then points far
        // past the end of the data section.
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        std::string junk(64, '\xff');
        f.seekp(0);
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    std::string error;
    EXPECT_FALSE(open_db(path, &error));
    EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
    std::filesystem::remove(path);
}

TEST(Database, RefusesNonDatabases) {
    std::string error;
    EXPECT_FALSE(open_db("/nonexistent.mmdb", &error));
    EXPECT_NE(error.find("/nonexistent.mmdb"), std::string::npos);
    EXPECT_FALSE(open_db(kData + "/expected.tsv", &error));
}
