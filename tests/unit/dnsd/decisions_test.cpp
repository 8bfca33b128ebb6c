// Decision ranges against a brute-force model: on random tables and random
// maps (nested and overlapping CIDR overrides, ASN, country and continent
// entries), every sampled address gets the chain the map walks for it by
// definition, and the scope is exactly the widest prefix around it on which
// that chain is constant.
#include "dnsd/decisions.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

using namespace signpost::dnsd;
using namespace signpost::common;

namespace {

Uint128 top(Family f) {
    return f == Family::kV4 ? Uint128{0xffffffffu} : ~Uint128{0};
}

struct Model {
    const GeoMap& map;
    const GeoTable* table;

    // The entries the map walks for x, by the definition of the tiers.
    std::vector<const MapEntry*> chain(Family f, Uint128 x) const {
        std::vector<const MapEntry*> out;
        const IpAddress a = address_from_value(f, x);
        const std::pair<Prefix, MapEntry>* best = nullptr;
        for (const auto& c : map.cidr)
            if (c.first.family() == f && c.first.contains(a) &&
                (!best || c.first.length() > best->first.length()))
                best = &c;
        if (best) out.push_back(&best->second);
        if (table && map.needs_geo()) {
            const GeoFactsView v = table->lookup(a);
            if (v.asn)
                if (auto it = map.asn.find(v.asn); it != map.asn.end()) out.push_back(&it->second);
            if (!v.country.empty())
                if (auto it = map.country.find(std::string(v.country)); it != map.country.end())
                    out.push_back(&it->second);
            if (!v.continent.empty())
                if (auto it = map.continent.find(std::string(v.continent));
                    it != map.continent.end())
                    out.push_back(&it->second);
        }
        out.push_back(&map.default_entry);
        return out;
    }

    // Every point where the chain may change, evaluated and merged: the
    // model's ranges as (start, end).
    std::vector<std::pair<Uint128, Uint128>> ranges(Family f) const {
        std::set<Uint128> cuts{0};
        const unsigned bits = f == Family::kV4 ? 32 : 128;
        if (table && map.needs_geo())
            for (std::size_t i = 0; i < table->range_count(f); ++i)
                cuts.insert(table->range_start(f, i));
        for (const auto& c : map.cidr) {
            if (c.first.family() != f) continue;
            const Uint128 lo = address_value(c.first.address());
            const Uint128 host =
                c.first.length() == 0 ? top(f) : (Uint128{1} << (bits - c.first.length())) - 1;
            cuts.insert(lo);
            if ((lo | host) != top(f)) cuts.insert((lo | host) + 1);
        }
        std::vector<Uint128> starts(cuts.begin(), cuts.end());
        std::vector<std::pair<Uint128, Uint128>> out;
        std::vector<const MapEntry*> prev;
        for (std::size_t i = 0; i < starts.size(); ++i) {
            auto c = chain(f, starts[i]);
            const Uint128 end = i + 1 < starts.size() ? starts[i + 1] - 1 : top(f);
            if (!out.empty() && c == prev) {
                out.back().second = end;
            } else {
                out.emplace_back(starts[i], end);
                prev = std::move(c);
            }
        }
        return out;
    }
};

std::vector<const MapEntry*> entries(const Chain& c) {
    std::vector<const MapEntry*> out;
    for (std::size_t i = 0; i < c.size; ++i) out.push_back(c.steps[i].entry);
    return out;
}

struct Random {
    std::mt19937_64 rng;
    explicit Random(std::uint64_t seed) : rng(seed) {}
    std::uint64_t below(std::uint64_t n) { return rng() % n; }
    // An address in the small region where everything happens, so that
    // ranges and overrides meet: 10.0.0.0/16 or 2001:db8::/112.
    Uint128 near(Family f) {
        const Uint128 base = f == Family::kV4 ? Uint128{0x0a000000u}
                                              : address_value(*IpAddress::parse("2001:db8::"));
        return base + below(65536);
    }
};

void check_family(const GeoMap& map, const GeoTable* table, Family f, Random& r) {
    const CompiledMap cm = CompiledMap::compile(map, table);
    ASSERT_TRUE(cm.ready());
    const Model model{map, table};
    const auto ranges = model.ranges(f);
    EXPECT_EQ(cm.ranges(f), ranges.size()) << "merged ranges";
    const unsigned bits = f == Family::kV4 ? 32 : 128;
    auto probe = [&](Uint128 x) {
        const auto hit = cm.find(address_from_value(f, x));
        ASSERT_EQ(entries(*hit.chain), model.chain(f, x)) << address_from_value(f, x).to_string();
        auto it = std::upper_bound(ranges.begin(), ranges.end(), x,
                                   [](Uint128 v, const auto& rg) { return v < rg.first; });
        --it;
        EXPECT_EQ(hit.scope, prefix_len_within(x, it->first, it->second, bits))
            << address_from_value(f, x).to_string();
    };
    for (int i = 0; i < 3000; ++i) probe(r.near(f));
    for (const auto& [lo, hi] : ranges) {
        probe(lo);
        probe(hi);
    }
    for (int i = 0; i < 200; ++i)
        probe(f == Family::kV4 ? Uint128{r.rng() & 0xffffffffu}
                               : (Uint128{r.rng()} << 64) | r.rng());
}

}  // namespace

TEST(Decisions, MatchTheBruteForceModelOnRandomMapsAndTables) {
    const char* countries[] = {"DE", "FR", "US", "GB"};
    const char* continents[] = {"EU", "NA"};
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        Random r(seed);
        // The table: random ranges in the region, facts from a small set so
        // that neighbours often agree.
        TableBuilder b;
        std::vector<std::uint32_t> facts{b.intern(GeoFactsView{})};
        std::vector<std::string> keep;  // the views borrow these
        for (int i = 0; i < 12; ++i) {
            GeoFactsView v;
            v.found = true;
            v.country = countries[r.below(4)];
            v.continent = continents[r.below(2)];
            v.asn = r.below(3) ? static_cast<std::uint32_t>(64500 + r.below(4)) : 0;
            facts.push_back(b.intern(v));
        }
        for (Family f : {Family::kV4, Family::kV6}) {
            std::set<Uint128> starts{0};
            for (int i = 0; i < 60; ++i) starts.insert(r.near(f));
            for (Uint128 s : starts) b.add(f, s, facts[r.below(facts.size())]);
        }
        std::string error;
        auto table = GeoTable::from_bytes(b.finish(seed, 0), error);
        ASSERT_TRUE(table) << error;

        // The map: entries for some of the facts' values, overrides nested
        // and overlapping inside the region (some the same prefix as a table range).
        GeoMap m;
        auto entry = [&](std::uint32_t node) {
            MapEntry e;
            e.members.push_back({node, 100});
            return e;
        };
        std::uint32_t node = 0;
        m.default_entry = entry(node++);
        if (r.below(4)) m.country["DE"] = entry(node++);
        if (r.below(4)) m.country["US"] = entry(node++);
        if (r.below(2)) m.continent["EU"] = entry(node++);
        if (r.below(2)) m.asn[64501] = entry(node++);
        if (r.below(2)) m.asn[64502] = entry(node++);
        const unsigned n_cidr = static_cast<unsigned>(r.below(25));
        for (unsigned i = 0; i < n_cidr; ++i) {
            const Family f = r.below(2) ? Family::kV4 : Family::kV6;
            const unsigned bits = f == Family::kV4 ? 32 : 128;
            const unsigned len = bits - static_cast<unsigned>(r.below(15));
            Prefix p(address_from_value(f, r.near(f)), len);
            bool dup = false;
            for (const auto& c : m.cidr) dup = dup || c.first == p;
            if (!dup) m.cidr.emplace_back(p, entry(node++));
        }
        std::sort(m.cidr.begin(), m.cidr.end(),
                  [](const auto& a, const auto& b) { return a.first.length() > b.first.length(); });
        for (Family f : {Family::kV4, Family::kV6}) {
            SCOPED_TRACE("seed " + std::to_string(seed) + (f == Family::kV4 ? " IPv4" : " IPv6"));
            check_family(m, table.get(), f, r);
            // The same map without geo tiers: overrides and default only.
            GeoMap plain;
            plain.cidr = m.cidr;
            plain.default_entry = m.default_entry;
            check_family(plain, table.get(), f, r);
            check_family(plain, nullptr, f, r);
        }
    }
}

TEST(Decisions, AGeoMapWithoutATableIsNotReady) {
    GeoMap m;
    m.country["DE"].members.push_back({0, 1});
    EXPECT_FALSE(CompiledMap::compile(m, nullptr).ready());
    GeoMap plain;
    EXPECT_TRUE(CompiledMap::compile(plain, nullptr).ready());
}

TEST(Decisions, NeighboursWithTheSameChainMergeAcrossDatabaseNetworks) {
    // Three database networks: 10.0.0.0/24 DE, 10.0.1.0/24 DE with another
    // ASN, 10.0.2.0/23 FR. The map routes DE and has no ASN entry: the two
    // DE networks are one decision range, and 10.0.0.0/24 is answered with
    // scope /23.
    TableBuilder b;
    GeoFactsView de;
    de.found = true;
    de.country = "DE";
    de.continent = "EU";
    de.asn = 1;
    GeoFactsView de2 = de;
    de2.asn = 2;
    GeoFactsView fr = de;
    fr.country = "FR";
    const auto none = b.intern(GeoFactsView{});
    b.add(Family::kV4, 0, none);
    b.add(Family::kV4, 0x0a000000u, b.intern(de));
    b.add(Family::kV4, 0x0a000100u, b.intern(de2));
    b.add(Family::kV4, 0x0a000200u, b.intern(fr));
    b.add(Family::kV4, 0x0a000400u, none);
    std::string error;
    auto t = GeoTable::from_bytes(b.finish(1, 0), error);
    ASSERT_TRUE(t) << error;
    GeoMap m;
    m.country["DE"].members.push_back({1, 1});
    m.country["FR"].members.push_back({2, 1});
    const auto cm = CompiledMap::compile(m, t.get());
    const auto hit = cm.find(*IpAddress::parse("10.0.0.0"));
    EXPECT_EQ(hit.scope, 23u);
    EXPECT_EQ(hit.chain->steps[0].tier, Tier::kCountry);
    EXPECT_EQ(cm.find(*IpAddress::parse("10.0.3.9")).scope, 23u);
    // An ASN entry for AS2 splits them again.
    m.asn[2].members.push_back({3, 1});
    const auto split = CompiledMap::compile(m, t.get());
    EXPECT_EQ(split.find(*IpAddress::parse("10.0.0.0")).scope, 24u);
    EXPECT_EQ(split.find(*IpAddress::parse("10.0.1.0")).chain->steps[0].tier, Tier::kAsn);
}
