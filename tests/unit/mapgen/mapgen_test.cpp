// signpost-mapgen's policy on tables built here: centres weighted by
// addresses, 0,0 as unknown, the shipped table, ranks within the margin,
// constraints, and what --diff counts.
#include "mapgen/mapgen.hpp"

#include <gtest/gtest.h>

#include "dnsd/config/schema.hpp"
#include "mapgen/country_centres.hpp"

namespace signpost::mapgen {
namespace {

using common::Family;
using common::GeoFactsView;
using common::GeoTable;
using common::TableBuilder;

struct Net {
    std::uint32_t start;  // a /16 each
    const char* country;
    bool located;
    double lat, lon;
    std::uint32_t radius = 0;  // accuracy, km
};

std::shared_ptr<const GeoTable> table_of(std::initializer_list<Net> nets) {
    TableBuilder b;
    b.add(Family::kV4, 0, b.intern(GeoFactsView{}));
    std::uint32_t end = 0;
    for (const auto& n : nets) {
        GeoFactsView v;
        v.found = true;
        v.country = n.country;
        v.has_location = n.located;
        v.latitude = n.lat;
        v.longitude = n.lon;
        v.accuracy_radius = n.radius;
        b.add(Family::kV4, n.start, b.intern(v));
        end = n.start + 0x10000u;
        b.add(Family::kV4, end, b.intern(GeoFactsView{}));
    }
    std::string error;
    auto t = GeoTable::from_bytes(b.finish(1, 0), error);
    EXPECT_TRUE(t) << error;
    return t;
}

dnsd::EdgeSet nodes(std::initializer_list<std::tuple<const char*, double, double>> list) {
    dnsd::EdgeSet e;
    for (const auto& [name, lat, lon] : list) {
        dnsd::EdgeNode n;
        n.name = name;
        n.has_location = lat != 0 || lon != 0;
        n.latitude = lat;
        n.longitude = lon;
        e.nodes.push_back(n);
    }
    return e;
}

TEST(Mapgen, CountryCentresAreWeightedByAddressesAndZeroZeroIsUnknown) {
    // Portugal: three /16s in Lisbon, one in Porto; Nigeria only at 0,0.
    const auto t = table_of({{0x0a000000u, "PT", true, 38.72, -9.14},
                             {0x0a020000u, "PT", true, 38.72, -9.14},
                             {0x0a040000u, "PT", true, 38.72, -9.14},
                             {0x0a060000u, "PT", true, 41.15, -8.61},
                             {0x0a080000u, "NG", true, 0, 0}});
    const GeoSummary g = summarize(*t);
    ASSERT_EQ(g.countries.count("PT"), 1u);
    const Place& pt = g.countries.at("PT");
    EXPECT_TRUE(pt.from_data);
    EXPECT_NEAR(pt.latitude, (3 * 38.72 + 41.15) / 4, 0.05);  // nearer Lisbon than Porto
    EXPECT_DOUBLE_EQ(pt.addresses, 4 * 65536.0);
    const Place& ng = g.countries.at("NG");
    EXPECT_FALSE(ng.from_data);  // from the shipped table: Lagos, not the Gulf of Guinea
    EXPECT_GT(ng.latitude, 4);
    EXPECT_EQ(g.continents.count("EU"), 1u);
    EXPECT_EQ(g.continents.count("AF"), 1u);
}

TEST(Mapgen, LocationsVaguerThanTheBoundDoNotMoveACentre) {
    // Portugal: Lisbon to 20 km, and two /16s "somewhere" at Frankfurt, good
    // to 1,000 km only (the sort of record a country-level block gets).
    const auto t = table_of({{0x0a000000u, "PT", true, 38.72, -9.14, 20},
                             {0x0a020000u, "PT", true, 50.11, 8.68, 1000},
                             {0x0a040000u, "PT", true, 50.11, 8.68, 1000}});
    const Place pt = summarize(*t).countries.at("PT");
    EXPECT_TRUE(pt.from_data);
    EXPECT_NEAR(pt.latitude, 38.72, 0.01);
    EXPECT_DOUBLE_EQ(pt.addresses, 3 * 65536.0);  // its addresses still count
    const Place unbounded = summarize(*t, 0).countries.at("PT");
    EXPECT_GT(unbounded.latitude, 45);  // pulled two thirds of the way to Frankfurt
}

TEST(Mapgen, TheShippedTableIsSortedAndComplete) {
    const auto& t = country_centres();
    EXPECT_GE(t.size(), 240u);
    for (std::size_t i = 1; i < t.size(); ++i)
        EXPECT_LT(std::string_view(t[i - 1].code), std::string_view(t[i].code));
    for (const auto& c : t) {
        EXPECT_LE(std::abs(c.latitude), 90) << c.code;
        EXPECT_LE(std::abs(c.longitude), 180) << c.code;
    }
}

TEST(Mapgen, NearestFirstTiesWithinTheMarginAndConstraints) {
    const auto t = table_of({{0x0a000000u, "PT", true, 38.72, -9.14},
                             {0x0a020000u, "DE", true, 50.11, 8.68},
                             {0x0a040000u, "IE", true, 53.35, -6.26}});
    const GeoSummary g = summarize(*t);
    const auto e = nodes({{"mad1", 40.42, -3.70},
                          {"fra1", 50.11, 8.68},
                          {"ams1", 52.37, 4.90},
                          {"lon1", 51.51, -0.13},
                          {"isp1", 0, 0}});
    Inventory inv;
    inv.path = "inv.toml";
    inv.config = "dnsd.toml";
    inv.policy.candidates = 3;
    inv.policy.margin_km = 400;
    NodeExtra lon;
    lon.name = "lon1";
    lon.avoid_countries = {"IE"};
    NodeExtra isp;
    isp.name = "isp1";
    isp.asns = {64510};
    isp.asn_only = true;
    inv.nodes = {lon, isp};
    const Plan p = make_plan(inv, e, g);
    // Lisbon: Madrid (about 500 km), then the rest far behind.
    ASSERT_EQ(p.country.count("PT"), 1u);
    EXPECT_EQ(p.country.at("PT").members.front(),
              (std::pair<std::string, std::uint32_t>{"mad1", 100}));
    // Frankfurt's clients: fra1, then ams1 (365 km) tied with it inside 400 km.
    const auto& de = p.country.at("DE").members;
    ASSERT_GE(de.size(), 2u);
    EXPECT_EQ(de[0], (std::pair<std::string, std::uint32_t>{"fra1", 100}));
    EXPECT_EQ(de[1], (std::pair<std::string, std::uint32_t>{"ams1", 100}));
    // lon1 may not serve Ireland, however near; isp1 serves only its ASN.
    for (const auto& [n, w] : p.country.at("IE").members) {
        EXPECT_NE(n, "lon1");
        EXPECT_NE(n, "isp1");
    }
    ASSERT_EQ(p.asn.count(64510), 1u);
    EXPECT_EQ(p.asn.at(64510).members.size(), 1u);
    const std::string body = render_body(p);
    EXPECT_NE(body.find("AS64510 = [\"isp1:100\"]"), std::string::npos) << body;

    // The diff: lon1 allowed in Ireland again takes its clients.
    Inventory inv2 = inv;
    inv2.nodes[0].avoid_countries.clear();
    const Plan p2 = make_plan(inv2, e, g);
    const Diff d = diff_plans(p, p2, g);
    ASSERT_EQ(d.moved_countries, std::vector<std::string>{"IE"});
    EXPECT_NEAR(d.moved_share, 1.0 / 3, 1e-9);
}

TEST(Mapgen, ANodeNowhereOrUnknownIsRefused) {
    const auto t = table_of({{0x0a000000u, "PT", true, 38.72, -9.14}});
    const GeoSummary g = summarize(*t);
    const auto e = nodes({{"mad1", 40.42, -3.70}, {"lost1", 0, 0}});
    Inventory inv;
    inv.path = "inv.toml";
    inv.config = "dnsd.toml";
    EXPECT_THROW(make_plan(inv, e, g), dnsd::config::Problem);
    NodeExtra ghost;
    ghost.name = "ghost";
    ghost.line = 7;
    inv.nodes = {ghost};
    try {
        make_plan(inv, e, g);
        FAIL();
    } catch (const dnsd::config::Problem& p) {
        EXPECT_EQ(p.text(), "inv.toml:7: nodes: ghost is not a node of dnsd.toml");
    }
}

}  // namespace
}  // namespace signpost::mapgen
