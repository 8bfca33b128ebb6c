#include "dnsd/redirect/select.hpp"

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "common/hash.hpp"

using namespace signpost::dnsd;
using signpost::common::Family;
using signpost::common::GeoAnswer;
using signpost::common::IpAddress;
using signpost::common::Prefix;

namespace {

struct World {
    EdgeSet e;
    RedirectConfig r;
    GeoMap m;
    std::uint32_t add(const std::string& name, std::uint32_t weight, bool v4 = true,
                      bool v6 = true) {
        EdgeNode n;
        n.name = name;
        n.name_hash = signpost::common::fnv1a(name);
        n.weight = weight;
        if (v4) n.v4.push_back(*IpAddress::parse("192.0.2." + std::to_string(e.nodes.size() + 1)));
        if (v6)
            n.v6.push_back(*IpAddress::parse("2001:db8::" + std::to_string(e.nodes.size() + 1)));
        e.node_index[name] = static_cast<std::uint32_t>(e.nodes.size());
        e.nodes.push_back(n);
        return e.node_index[name];
    }
    MapEntry entry(std::initializer_list<std::pair<const char*, std::uint32_t>> members) {
        MapEntry x;
        for (auto [name, w] : members) {
            auto i = e.node_index.at(name);
            x.members.push_back({i, w ? w : e.nodes[i].weight});
        }
        return x;
    }
    Decision ask(const char* client, const GeoAnswer* geo, Family f = Family::kV4,
                 const HealthView& h = {}, bool ecs = true) {
        ClientKey k;
        auto p = *Prefix::parse(client);
        k.address = p.address();
        k.source_len = p.length();
        k.from_ecs = ecs;
        // Compiled again only when the geo facts or the map changed (tests
        // ask thousands of times with the same ones).
        const bool geo_changed =
            (geo != nullptr) != last_geo.has_value() || (geo && !(*geo == *last_geo));
        if (geo_changed) {
            table = geo ? table_of(*geo) : nullptr;
            last_geo = geo ? std::optional<GeoAnswer>(*geo) : std::nullopt;
        }
        const std::string fp = fingerprint();
        if (geo_changed || fp != last_map) {
            compiled = CompiledMap::compile(m, table.get());
            last_map = fp;
        }
        return decide(e, r, &compiled, f, k, h, 0);
    }
    std::string fingerprint() const {
        std::string s;
        auto add = [&](const std::string& key, const MapEntry& x) {
            s += key + "=";
            for (const auto& mem : x.members)
                s += std::to_string(mem.node) + ":" + std::to_string(mem.weight) + ",";
            s += ";";
        };
        for (const auto& [p, x] : m.cidr) add(p.to_string(), x);
        for (const auto& [a, x] : m.asn) add(std::to_string(a), x);
        for (const auto& [c, x] : m.country) add("c" + c, x);
        for (const auto& [c, x] : m.continent) add("k" + c, x);
        add("default", m.default_entry);
        return s;
    }
    std::optional<GeoAnswer> last_geo;
    std::string last_map = "-";
    // A table in which geo's prefix has geo's facts and every other address none.
    static std::shared_ptr<const signpost::common::GeoTable> table_of(const GeoAnswer& g) {
        using namespace signpost::common;
        TableBuilder b;
        const std::uint32_t none = b.intern(GeoFactsView{});
        const std::uint32_t fact = b.intern(view_of(g));
        const Family f = g.prefix.family();
        const unsigned bits = g.prefix.address().bits();
        const Uint128 lo = address_value(g.prefix.address());
        const Uint128 host = g.prefix.length() == 0
                                 ? ~Uint128{0} >> (128 - bits)
                                 : (Uint128{1} << (bits - g.prefix.length())) - 1;
        if (lo != 0) b.add(f, 0, none);
        b.add(f, lo, fact);
        if ((lo | host) != (~Uint128{0} >> (128 - bits))) b.add(f, (lo | host) + 1, none);
        std::string error;
        auto t = GeoTable::from_bytes(b.finish(1, 0), error);
        EXPECT_TRUE(t) << error;
        return t;
    }
    std::shared_ptr<const signpost::common::GeoTable> table;
    CompiledMap compiled;
    std::string name(const Decision& d, std::size_t i = 0) {
        return d.nodes.size() > i ? e.nodes[d.nodes[i]].name : "-";
    }
};

GeoAnswer geo(const char* prefix, const char* cc, const char* cont, std::uint32_t asn = 0) {
    GeoAnswer g;
    g.prefix = *Prefix::parse(prefix);
    g.ip = g.prefix.address();
    g.found = true;
    g.country = cc;
    g.continent = cont;
    g.asn = asn;
    return g;
}

World standard() {
    World w;
    w.add("fra1", 100);
    w.add("par1", 100, true, false);  // IPv4 only
    w.add("nyc1", 100);
    w.add("nyc2", 100);
    w.m.default_entry = w.entry({{"nyc1", 0}, {"fra1", 50}});
    w.m.continent["EU"] = w.entry({{"fra1", 0}});
    w.m.continent["NA"] = w.entry({{"nyc1", 0}, {"nyc2", 0}});
    w.m.country["FR"] = w.entry({{"par1", 0}, {"fra1", 50}});
    w.m.asn[64501] = w.entry({{"par1", 0}});
    w.m.cidr.emplace_back(*Prefix::parse("10.9.0.0/16"), w.entry({{"nyc2", 0}}));
    w.r.fallback = w.entry({{"fra1", 3}, {"nyc1", 1}});
    return w;
}

}  // namespace

TEST(Select, TierOrderMostSpecificFirst) {
    World w = standard();
    auto g = geo("10.1.2.0/24", "FR", "EU", 64501);
    auto d = w.ask("10.1.2.0/24", &g);
    EXPECT_EQ(d.tier, Tier::kAsn);
    EXPECT_EQ(w.name(d), "par1");
    g.asn = 1;
    d = w.ask("10.1.2.0/24", &g);
    EXPECT_EQ(d.tier, Tier::kCountry);
    g.country = "DE";
    d = w.ask("10.1.2.0/24", &g);
    EXPECT_EQ(d.tier, Tier::kContinent);
    EXPECT_EQ(w.name(d), "fra1");
    g.continent = "AS";
    d = w.ask("10.1.2.0/24", &g);
    EXPECT_EQ(d.tier, Tier::kDefault);
    EXPECT_EQ(w.name(d), "nyc1");  // highest weight wins: fra1 is 50 in this entry
    auto in_cidr = geo("10.9.0.0/16", "FR", "EU", 64501);
    d = w.ask("10.9.4.0/24", &in_cidr);
    EXPECT_EQ(d.tier, Tier::kCidr);  // the override beats every geo tier
    EXPECT_EQ(w.name(d), "nyc2");
}

TEST(Select, FamilyFilteringFallsThroughTiers) {
    World w = standard();
    auto g = geo("10.1.2.0/24", "FR", "EU", 64501);
    auto d = w.ask("10.1.2.0/24", &g, Family::kV6);
    // par1 has no IPv6: the ASN tier has no candidate, the country tier's fra1 does.
    EXPECT_EQ(d.tier, Tier::kCountry);
    EXPECT_EQ(w.name(d), "fra1");
}

TEST(Select, WeightedSpreadWithinTwoPercent) {
    World w;
    w.add("a", 100);
    w.add("b", 200);
    w.add("c", 300);
    // Equal entry weights: a tie, shared in proportion to the nodes' capacities.
    w.m.default_entry = w.entry({{"a", 10}, {"b", 10}, {"c", 10}});
    std::map<std::string, int> count;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
        auto a = IpAddress::v4(0x0a000000u + (static_cast<std::uint32_t>(i) << 8));
        auto d = w.ask((a.to_string() + "/24").c_str(), nullptr);
        ASSERT_TRUE(d.hashed);
        count[w.name(d)]++;
    }
    // Each node's share is within 2% (relative) of its weight's share.
    EXPECT_LT(std::abs(count["a"] / (n / 6.0) - 1), 0.02);
    EXPECT_LT(std::abs(count["b"] / (n * 2 / 6.0) - 1), 0.02);
    EXPECT_LT(std::abs(count["c"] / (n * 3 / 6.0) - 1), 0.02);
}

TEST(Select, StickyPerSubnet) {
    World w = standard();
    auto g = geo("10.0.0.0/16", "US", "NA");
    const auto first = w.name(w.ask("10.0.7.0/24", &g));
    for (int i = 0; i < 1000; ++i) {
        // Any address of the /24, with or without ECS, gets the same node.
        auto a = "10.0.7." + std::to_string(i % 256) + "/32";
        EXPECT_EQ(w.name(w.ask(a.c_str(), &g, Family::kV4, {}, i % 2 == 0)), first);
    }
}

TEST(Select, OnlyClientsOfAFailedNodeMove) {
    World w;
    for (auto n : {"a", "b", "c", "d"}) w.add(n, 100);
    w.m.default_entry = w.entry({{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}});
    HealthView down_c;
    down_c.up_v4 = {true, true, false, true};
    int moved = 0, on_c = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        auto s =
            IpAddress::v4(0x0b000000u + (static_cast<std::uint32_t>(i) << 8)).to_string() + "/24";
        const auto before = w.name(w.ask(s.c_str(), nullptr));
        const auto after = w.name(w.ask(s.c_str(), nullptr, Family::kV4, down_c));
        if (before == "c") ++on_c;
        if (before != after) {
            ++moved;
            EXPECT_EQ(before, "c");  // nobody else moves
        }
    }
    EXPECT_EQ(moved, on_c);
    EXPECT_NEAR(moved / double(n), 0.25, 0.02);
}

TEST(Select, FailOpenWhenNothingIsUp) {
    World w = standard();
    for (auto& node : w.e.nodes) node.admin_up = false;
    auto g = geo("10.1.2.0/24", "FR", "EU", 64501);
    auto d = w.ask("10.1.2.0/24", &g);
    EXPECT_EQ(d.tier, Tier::kFailOpen);
    ASSERT_EQ(d.nodes.size(), 1u);
    EXPECT_EQ(w.name(d), "par1");  // as if all were up: the most specific entry
    // Scoped to the client's range like any answer (not 0: another client's
    // chain fails open to another entry).
    EXPECT_EQ(d.scope, 24u);
}

TEST(Select, FallbackIsWeightedRoundRobinWithScopeZero) {
    World w = standard();
    std::map<std::string, int> count;
    ClientKey k{*IpAddress::parse("10.1.2.0"), 24, true};
    for (std::uint64_t i = 0; i < 400; ++i) {
        auto d = decide(w.e, w.r, nullptr, Family::kV4, k, {}, i);
        EXPECT_EQ(d.tier, Tier::kFallback);
        EXPECT_EQ(d.scope, 0u);
        EXPECT_EQ(d.ttl, w.r.fallback_ttl);
        count[w.name(d)]++;
    }
    EXPECT_EQ(count["fra1"], 300);
    EXPECT_EQ(count["nyc1"], 100);
}

TEST(Select, ScopeTable) {
    World w = standard();
    struct Case {
        const char* client;
        const char* geo_prefix;
        const char* cc;
        const char* cont;
        unsigned scope;
        const char* why;
    } cases[] = {
        {"10.1.2.0/24", "10.1.2.0/24", "DE", "EU", 24, "geo prefix"},
        {"10.1.0.0/24", "10.1.0.0/23", "DE", "EU", 23,
         "geo prefix wider than the source: wider is fine"},
        {"81.2.69.0/24", "81.2.69.0/25", "GB", "EU", 25,
         "the answer changes inside the source: longer than SOURCE (RFC 7871 7.2.1)"},
        {"10.0.0.0/24", "10.0.0.0/16", "US", "NA", 24, "a tie was hashed: the stickiness prefix"},
        {"10.9.1.0/24", "10.9.0.0/16", "US", "NA", 16, "CIDR override: its own prefix"},
        {"10.8.0.0/16", "10.0.0.0/12", "DE", "EU", 16,
         "geo prefix contains an override: narrowed to exclude it"},
        {"2001:db8:1::/48", "2001:db8::/32", "DE", "EU", 32, "IPv6 geo prefix"},
        {"2001:db8:1::/56", "2001:db8:1::/64", "DE", "EU", 64, "IPv6: longer than the source"},
        {"2001:db8:2::/48", "2001:db8::/32", "US", "NA", 48, "IPv6 tie: stickiness /48"},
    };
    for (const auto& c : cases) {
        auto g = geo(c.geo_prefix, c.cc, c.cont);
        auto p = *Prefix::parse(c.client);
        auto d = w.ask(c.client, &g, p.family());
        EXPECT_EQ(d.scope, c.scope) << c.client << ": " << c.why;
    }
}

TEST(Select, DrainMovesTheConfiguredFractionAndNobodyComesBack) {
    World w;
    for (auto n : {"a", "b"}) w.add(n, 100);
    w.m.default_entry = w.entry({{"a", 0}, {"b", 0}});
    const int n = 40000;
    std::vector<std::string> subnets;
    for (int i = 0; i < n; ++i)
        subnets.push_back(
            IpAddress::v4(0x0c000000u + (static_cast<std::uint32_t>(i) << 8)).to_string() + "/24");
    HealthView h;
    h.up_v4 = {true, true};
    h.up_v6 = {true, true};
    std::vector<bool> left(n, false);  // moved off "a" at an earlier step
    for (double keep : {1.0, 0.75, 0.5, 0.25, 0.1, 0.0}) {
        h.keep = {keep, 1.0};
        int on_a = 0;
        for (int i = 0; i < n; ++i) {
            const auto d = w.ask(subnets[i].c_str(), nullptr, Family::kV4, h);
            ASSERT_EQ(d.tier, Tier::kDefault);
            if (w.name(d) == "a") {
                ++on_a;
                EXPECT_FALSE(left[i]) << subnets[i] << " came back at keep " << keep;
            } else if (w.name(w.ask(subnets[i].c_str(), nullptr)) == "a") {
                left[i] = true;  // was a's without the drain, is b's now
            }
        }
        // a's share without a drain is 1/2; the drain keeps `keep` of it.
        EXPECT_NEAR(on_a / double(n), 0.5 * keep, 0.01) << "keep " << keep;
    }
}

TEST(Select, DrainedNodeOnItsOwnFallsToTheNextTier) {
    World w = standard();
    HealthView h;
    h.up_v4.assign(w.e.nodes.size(), true);
    h.up_v6.assign(w.e.nodes.size(), true);
    h.keep.assign(w.e.nodes.size(), 1.0);
    h.keep[w.e.node_index.at("fra1")] = 0.0;  // EU's only node, fully drained
    auto g = geo("10.1.2.0/24", "DE", "EU");
    const auto d = w.ask("10.1.2.0/24", &g, Family::kV4, h);
    EXPECT_EQ(d.tier, Tier::kDefault);
    EXPECT_EQ(w.name(d), "nyc1");
}

TEST(Select, FallbackWeightShrinksWithTheDrain) {
    World w = standard();  // fallback: fra1 x3, nyc1 x1
    HealthView h;
    h.up_v4.assign(w.e.nodes.size(), true);
    h.up_v6.assign(w.e.nodes.size(), true);
    h.keep.assign(w.e.nodes.size(), 1.0);
    h.keep[w.e.node_index.at("fra1")] = 1.0 / 3.0;  // weight 3 -> 1
    std::map<std::string, int> count;
    ClientKey k{*IpAddress::parse("10.1.2.0"), 24, true};
    for (std::uint64_t i = 0; i < 400; ++i)
        count[w.name(decide(w.e, w.r, nullptr, Family::kV4, k, h, i))]++;
    EXPECT_EQ(count["fra1"], 200);
    EXPECT_EQ(count["nyc1"], 200);
}

TEST(Select, HealthViewOverridesConfigAdminState) {
    // The checker folds admin state and operator overrides into the view: a
    // node forced up counts as up even if the config says down.
    World w;
    w.add("a", 100);
    w.add("b", 100);
    w.e.nodes[0].admin_up = false;
    w.m.default_entry = w.entry({{"a", 10}, {"b", 5}});
    EXPECT_EQ(w.name(w.ask("10.0.0.0/24", nullptr)), "b");  // no view: config decides
    HealthView forced;
    forced.up_v4 = {true, true};
    forced.up_v6 = {true, true};
    EXPECT_EQ(w.name(w.ask("10.0.0.0/24", nullptr, Family::kV4, forced)), "a");
}

TEST(Select, LargeEntriesAreSpreadOverEveryNode) {
    // 300 tied nodes (more than any fixed candidate buffer), 3 answers each.
    World w;
    MapEntry all;
    for (int i = 0; i < 300; ++i) {
        const auto n = w.add("n" + std::to_string(i), 100, true, false);
        all.members.push_back({n, 100});
    }
    w.m.default_entry = all;
    w.r.answers = 3;
    std::vector<int> first(300, 0);
    const int subnets = 60000;
    for (int i = 0; i < subnets; ++i) {
        auto s =
            IpAddress::v4(0x0d000000u + (static_cast<std::uint32_t>(i) << 8)).to_string() + "/24";
        const auto d = w.ask(s.c_str(), nullptr);
        ASSERT_EQ(d.nodes.size(), 3u);
        EXPECT_NE(d.nodes[0], d.nodes[1]);
        EXPECT_NE(d.nodes[1], d.nodes[2]);
        EXPECT_NE(d.nodes[0], d.nodes[2]);
        ++first[d.nodes[0]];
    }
    // Every node leads for about 1/300 of the subnets (200 each; binomial sd ~14).
    for (int i = 0; i < 300; ++i) EXPECT_NEAR(first[i], 200, 80) << "n" << i;
}

TEST(Select, DrainMakesTheScopeTheStickinessSubnet) {
    // EU has one node: no tie, scope = the geo prefix. While it drains, whether
    // a client keeps it depends on the client's /24: the scope must say so,
    // or a resolver would cache one /24's answer for the whole /16.
    World w = standard();
    auto g = geo("10.1.0.0/16", "DE", "EU");
    EXPECT_EQ(w.ask("10.1.2.0/24", &g).scope, 16u);
    HealthView h;
    h.up_v4.assign(w.e.nodes.size(), true);
    h.up_v6.assign(w.e.nodes.size(), true);
    h.keep.assign(w.e.nodes.size(), 1.0);
    h.keep[w.e.node_index.at("fra1")] = 0.5;
    int kept = 0;
    for (int i = 0; i < 200; ++i) {
        const auto s = "10.1." + std::to_string(i) + ".0/24";
        const auto d = w.ask(s.c_str(), &g, Family::kV4, h);
        EXPECT_EQ(d.scope, 24u) << s;  // kept (EU) or moved (default): either way per /24
        kept += w.name(d) == "fra1";
    }
    EXPECT_GT(kept, 60);
    EXPECT_LT(kept, 140);
    h.keep[w.e.node_index.at("fra1")] = 0.0;  // fully drained: the same for everyone again
    EXPECT_EQ(w.ask("10.1.2.0/24", &g, Family::kV4, h).scope, 16u);
}

// The explanation is rebuilt from the decision: the winning entry and each of
// its candidates with its state (the query path formats none of it).
TEST(Select, ExplainNamesTheEntryAndEveryCandidate) {
    World w = standard();
    auto g = geo("10.1.2.0/24", "FR", "EU", 1);
    HealthView h;
    h.up_v4 = {true, false, true, true};  // par1 down
    h.up_v6 = {true, false, true, true};
    ClientKey k{*IpAddress::parse("10.1.2.0"), 24, true};
    auto d = w.ask("10.1.2.0/24", &g, Family::kV4, h);
    EXPECT_EQ(w.name(d), "fra1");
    auto x = explain(d, w.e, w.r, Family::kV4, k, h);
    EXPECT_EQ(x.entry, "FR");
    ASSERT_EQ(x.candidates.size(), 2u);
    EXPECT_EQ(x.candidates[0], "par1 weight 100 (capacity 100), down");
    EXPECT_EQ(x.candidates[1], "fra1 weight 50 (capacity 100), up");
    x = explain(d, w.e, w.r, Family::kV6, k, h);
    EXPECT_EQ(x.candidates[0], "par1 weight 100 (capacity 100), no IPv6");
    // Without a compiled map: the fallback pool.
    d = decide(w.e, w.r, nullptr, Family::kV4, k, {}, 0);
    x = explain(d, w.e, w.r, Family::kV4, k, {});
    EXPECT_EQ(x.entry, "fallback");
    ASSERT_EQ(x.candidates.size(), 2u);
    EXPECT_EQ(x.candidates[0], "fra1 weight 3 (capacity 100), up");
    // No decision at all: nothing to explain.
    EXPECT_EQ(explain(Decision{}, w.e, w.r, Family::kV4, k, {}).entry, "");
}
