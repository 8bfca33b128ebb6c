// Decision ranges against a brute-force model: on random tables and random
// maps (nested and overlapping CIDR overrides, ASN, country and continent
// entries), every sampled address gets the chain the map walks for it by
// definition, and the scope is exactly the widest prefix around it on which
// that chain is constant.
#include "dnsd/redirect/decisions.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <span>

#include "dnsd/redirect/select.hpp"

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
            for (std::size_t i = 0; i < table->range_count(f); ++i) {
                const Uint128 s = table->range_start(f, i);
                cuts.insert(s);
                const std::uint32_t fact = table->range_fact(f, i);
                if (f == Family::kV6 && is_ipv4_alias(fact))  // the IPv4 ranges it stands for
                    for (std::size_t k = 0; k < table->range_count(Family::kV4); ++k)
                        cuts.insert(
                            s | (table->range_start(Family::kV4, k) << (96 - alias_offset(fact))));
            }
        if (table && map.needs_geo() && f == Family::kV6) {
            // ::ffff:0:0/96 has the facts of the IPv4 address it carries.
            const Uint128 mapped = Uint128{0xffff} << 32;
            cuts.insert(mapped);
            cuts.insert(mapped + (Uint128{1} << 32));
            for (std::size_t k = 0; k < table->range_count(Family::kV4); ++k)
                cuts.insert(mapped | table->range_start(Family::kV4, k));
        }
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
    // ranges and overrides meet: 10.0.0.0/16 or 2001:db8::/112, or (one time
    // in four for IPv6) inside an IPv4 alias, carrying an address of that /16.
    Uint128 near(Family f) {
        if (f == Family::kV6 && below(4) == 0) {
            const Uint128 v4 = 0x0a000000u + below(65536);
            switch (below(3)) {
                case 0:
                    return alias96() | v4;
                case 1:
                    return alias64() | (v4 << 32) | (rng() & 0xffffffffu);
                default:
                    return (Uint128{0xffff} << 32) | v4;  // IPv4-mapped
            }
        }
        const Uint128 base = f == Family::kV4 ? Uint128{0x0a000000u}
                                              : address_value(*IpAddress::parse("2001:db8::"));
        // IPv6: half in one /64 (ranges sharing their high halves, more than
        // the lookup steps back over), half over 64 neighbouring /64s.
        if (f == Family::kV6 && below(2)) return base + (Uint128{below(64)} << 64) + below(65536);
        return base + below(65536);
    }
    static Uint128 alias96() { return address_value(*IpAddress::parse("2001:db9::")); }
    static Uint128 alias64() { return address_value(*IpAddress::parse("2001:dba::")); }
};

void check_family(const GeoMap& map, const GeoTable* table, Family f, Random& r) {
    const CompiledMap cm = CompiledMap::compile(map, table);
    ASSERT_TRUE(cm.ready());
    const Model model{map, table};
    const auto ranges = model.ranges(f);
    // (IPv6: the model spells out the aliases that the compiled map keeps as one range.)
    if (f == Family::kV4) {
        EXPECT_EQ(cm.ranges(f), ranges.size()) << "merged ranges";
    }
    const unsigned bits = f == Family::kV4 ? 32 : 128;
    std::vector<IpAddress> probed;
    auto probe = [&](Uint128 x) {
        probed.push_back(address_from_value(f, x));
        const auto hit = cm.find(address_from_value(f, x));
        ASSERT_EQ(entries(*hit.chain), model.chain(f, x)) << address_from_value(f, x).to_string();
        auto it = std::upper_bound(ranges.begin(), ranges.end(), x,
                                   [](Uint128 v, const auto& rg) { return v < rg.first; });
        --it;
        const unsigned want = prefix_len_within(x, it->first, it->second, bits);
        // In an IPv4 alias the scope is the alias's length plus the IPv4
        // range's: never wider than the alias, even where a neighbour outside
        // it walks the same chain (safe, and the alias stays one range).
        const IpAddress a = address_from_value(f, x);
        const bool in_alias =
            table && map.needs_geo() && f == Family::kV6 &&
            (a.unmapped().is_v4() || is_ipv4_alias(table->range_fact(f, table->find_range(a))));
        // A neighbour of an alias: the alias is a range of its own, so a
        // model range that takes it in (the same chain on both sides) is
        // wider than the compiled one; the scope can only be narrower.
        bool beside_alias = false;
        if (table && map.needs_geo() && f == Family::kV6) {
            const Uint128 mapped = Uint128{0xffff} << 32;
            beside_alias = it->first <= mapped + 0xffffffffu && it->second >= mapped;
            for (std::size_t i = 0; i < table->range_count(f) && !beside_alias; ++i) {
                const Uint128 s = table->range_start(f, i);
                beside_alias =
                    is_ipv4_alias(table->range_fact(f, i)) && s >= it->first && s <= it->second;
            }
        }
        if (in_alias || beside_alias) {
            EXPECT_GE(hit.scope, want) << a.to_string();
        } else {
            EXPECT_EQ(hit.scope, want)
                << address_from_value(f, x).to_string() << " model range "
                << address_from_value(f, it->first).to_string() << " - "
                << address_from_value(f, it->second).to_string() << " cidrs " << [&] {
                       std::string o;
                       for (const auto& c : map.cidr) o += c.first.to_string() + " ";
                       return o;
                   }();
        }
    };
    for (int i = 0; i < 3000; ++i) probe(r.near(f));
    for (const auto& [lo, hi] : ranges) {
        probe(lo);
        probe(hi);
    }
    for (int i = 0; i < 200; ++i)
        probe(f == Family::kV4 ? Uint128{r.rng() & 0xffffffffu}
                               : (Uint128{r.rng()} << 64) | r.rng());

    // The batch lookup finds what find() finds, for the same addresses mixed
    // with the other family's: over all of them in batches of growing size,
    // then in one lane, one lane and one, two lanes and two and a bit.
    const Family other = f == Family::kV4 ? Family::kV6 : Family::kV4;
    for (std::size_t i = 0; i < probed.size(); i += 3)
        probed.insert(probed.begin() + static_cast<std::ptrdiff_t>(i),
                      address_from_value(other, r.near(other)));
    auto check_batch = [&](std::size_t at, std::size_t n) {
        std::vector<CompiledMap::Hit> got(n);
        cm.find_batch(std::span(probed).subspan(at, n), got);
        for (std::size_t i = 0; i < n; ++i) {
            const auto want = cm.find(probed[at + i]);
            ASSERT_EQ(got[i].chain, want.chain) << "batch: " << probed[at + i].to_string();
            ASSERT_EQ(got[i].scope, want.scope) << "batch: " << probed[at + i].to_string();
        }
    };
    for (std::size_t at = 0, size = 1; at < probed.size(); at += size, ++size)
        check_batch(at, std::min(size, probed.size() - at));
    ASSERT_GT(probed.size(), 130u);
    for (std::size_t size : {64, 65, 128, 129, 130}) check_batch(probed.size() - size, size);
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
            for (int i = 0; i < 150; ++i) starts.insert(r.near(f));  // crowded: many in one /16
            if (f == Family::kV6) {
                // Two IPv4 aliases (/96 and /64), each exactly one range.
                for (Uint128 a : {Random::alias96(), Random::alias64()}) {
                    const unsigned len = a == Random::alias96() ? 96 : 64;
                    const Uint128 end = a | ((Uint128{1} << (128 - len)) - 1);
                    for (auto it = starts.begin(); it != starts.end();)
                        it = *it >= a && *it <= end + 1 ? starts.erase(it) : std::next(it);
                    starts.insert(a);
                    starts.insert(end + 1);
                }
            }
            for (Uint128 s : starts) {
                if (f == Family::kV6 && (s == Random::alias96() || s == Random::alias64()))
                    b.add_ipv4_alias(s, s == Random::alias96() ? 96 : 64);
                else
                    b.add(f, s, facts[r.below(facts.size())]);
            }
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
        // Sometimes an IPv6 override over a whole alias (it stays one range,
        // walking the override before the carried IPv4 address's geo chain).
        if (r.below(2)) {
            const bool a96 = r.below(2);
            const Prefix cover(
                address_from_value(Family::kV6, a96 ? Random::alias96() : Random::alias64()),
                a96 ? 64 + static_cast<unsigned>(r.below(33))
                    : 40 + static_cast<unsigned>(r.below(25)));
            m.cidr.emplace_back(cover, entry(node++));
        }
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
                  [](const auto& x, const auto& y) { return x.first.length() > y.first.length(); });
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

namespace {

// Cities: (latitude, longitude).
struct City {
    const char* name;
    double lat, lon;
};
const City kLisbon{"Lisbon", 38.7223, -9.1393}, kMadrid{"Madrid", 40.4168, -3.7038},
    kFrankfurt{"Frankfurt", 50.1109, 8.6821}, kParis{"Paris", 48.8566, 2.3522},
    kWarsaw{"Warsaw", 52.2297, 21.0122}, kPorto{"Porto", 41.1579, -8.6291};

// Nodes 0..2: mad1, fra1, par1; the map's nearest pool is all three.
EdgeSet three_nodes() {
    EdgeSet e;
    for (const City* c : {&kMadrid, &kFrankfurt, &kParis}) {
        EdgeNode n;
        n.name = c->name;
        n.v4.push_back(*IpAddress::parse("192.0.2.1"));
        n.has_location = true;
        n.latitude = c->lat;
        n.longitude = c->lon;
        e.nodes.push_back(n);
    }
    return e;
}

GeoMap nearest_map(const EdgeSet& e, double margin_km) {
    GeoMap m;
    m.default_entry.members.push_back({1, 1});
    m.has_nearest = true;
    m.nearest.margin_km = margin_km;
    m.nearest.candidates = 3;
    for (std::uint32_t i = 0; i < e.nodes.size(); ++i)
        m.nearest.nodes.push_back({i, e.nodes[i].latitude, e.nodes[i].longitude});
    return m;
}

}  // namespace

TEST(Nearest, DistancesAreGreatCircles) {
    // Lisbon-Madrid is about 503 km, Lisbon-Frankfurt about 1,890 km.
    EXPECT_NEAR(distance_km(kLisbon.lat, kLisbon.lon, kMadrid.lat, kMadrid.lon), 503, 5);
    EXPECT_NEAR(distance_km(kLisbon.lat, kLisbon.lon, kFrankfurt.lat, kFrankfurt.lon), 1890, 20);
    EXPECT_NEAR(distance_km(0, 179.5, 0, -179.5), 111, 1);  // across the antimeridian
}

TEST(Nearest, ClientsGoToTheNearestNodeAndFailOverByDistance) {
    const EdgeSet e = three_nodes();
    const GeoMap m = nearest_map(e, 50);
    // The table: Lisbon 10.0.0.0/24, Porto 10.0.1.0/24 (same order: one range),
    // Warsaw 10.0.2.0/24, a 0,0 "somewhere" 10.0.3.0/24, no coordinates after.
    TableBuilder b;
    auto at = [&](const City& c) {
        GeoFactsView v;
        v.found = true;
        v.country = "PT";
        v.continent = "EU";
        v.has_location = true;
        v.latitude = c.lat;
        v.longitude = c.lon;
        return b.intern(v);
    };
    GeoFactsView zero;
    zero.found = true;
    zero.has_location = true;
    b.add(Family::kV4, 0, b.intern(GeoFactsView{}));
    b.add(Family::kV4, 0x0a000000u, at(kLisbon));
    b.add(Family::kV4, 0x0a000100u, at(kPorto));
    b.add(Family::kV4, 0x0a000200u, at(kWarsaw));
    b.add(Family::kV4, 0x0a000300u, b.intern(zero));
    b.add(Family::kV4, 0x0a000400u, b.intern(GeoFactsView{}));
    std::string error;
    auto t = GeoTable::from_bytes(b.finish(1, 0), error);
    ASSERT_TRUE(t) << error;
    const auto cm = CompiledMap::compile(m, t.get());
    ASSERT_TRUE(cm.ready());
    RedirectConfig r;
    r.fallback = m.default_entry;
    auto chosen = [&](const char* a, const HealthView& h = {}) {
        ClientKey k{*IpAddress::parse(a), 32, false};
        const Decision d = decide(e, r, &cm, Family::kV4, k, h, 0);
        return d.nodes.empty() ? std::string("-") : e.nodes[d.nodes[0]].name;
    };
    EXPECT_EQ(chosen("10.0.0.7"), "Madrid");  // Lisbon: Madrid, not Frankfurt
    EXPECT_EQ(cm.find(*IpAddress::parse("10.0.0.7")).chain->steps[0].tier, Tier::kNearest);
    // Porto has the same ordering as Lisbon: one decision range, scope /23.
    EXPECT_EQ(cm.find(*IpAddress::parse("10.0.0.7")).scope, 23u);
    EXPECT_EQ(chosen("10.0.2.7"), "Frankfurt");  // Warsaw
    // 0,0 and no coordinates fall through to the default.
    EXPECT_EQ(cm.find(*IpAddress::parse("10.0.3.7")).chain->steps[0].tier, Tier::kDefault);
    EXPECT_EQ(cm.find(*IpAddress::parse("10.0.4.7")).chain->steps[0].tier, Tier::kDefault);
    // Madrid down: Lisbon's clients go to the next nearest, Paris.
    HealthView h;
    h.up_v4 = {false, true, true};
    EXPECT_EQ(chosen("10.0.0.7", h), "Paris");
    // Only two candidates: with Madrid and Paris down, the nearest tier
    // has nobody up and the default (Frankfurt) answers.
    GeoMap two = m;
    two.nearest.candidates = 2;
    const auto cm2 = CompiledMap::compile(two, t.get());
    h.up_v4 = {false, true, false};
    ClientKey k{*IpAddress::parse("10.0.0.7"), 32, false};
    const Decision d = decide(e, r, &cm2, Family::kV4, k, h, 0);
    ASSERT_FALSE(d.nodes.empty());
    EXPECT_EQ(d.tier, Tier::kDefault);
    // A radius that holds no node: the tier is passed.
    GeoMap near = m;
    near.nearest.radius_km = 100;
    const auto cm3 = CompiledMap::compile(near, t.get());
    EXPECT_EQ(cm3.find(*IpAddress::parse("10.0.0.7")).chain->steps[0].tier, Tier::kDefault);
}

TEST(Nearest, LocationsVaguerThanTheBoundPassTheTier) {
    const EdgeSet e = three_nodes();
    GeoMap m = nearest_map(e, 50);
    // Lisbon located to 20 km, then "somewhere in Portugal" put at Warsaw and
    // good to 1,000 km only, then Warsaw with no radius given.
    TableBuilder b;
    auto at = [&](const City& c, std::uint32_t radius) {
        GeoFactsView v;
        v.found = true;
        v.country = "PT";
        v.has_location = true;
        v.latitude = c.lat;
        v.longitude = c.lon;
        v.accuracy_radius = radius;
        return b.intern(v);
    };
    b.add(Family::kV4, 0, b.intern(GeoFactsView{}));
    b.add(Family::kV4, 0x0a000000u, at(kLisbon, 20));
    b.add(Family::kV4, 0x0a000100u, at(kWarsaw, 1000));
    b.add(Family::kV4, 0x0a000200u, at(kWarsaw, 0));
    b.add(Family::kV4, 0x0a000300u, b.intern(GeoFactsView{}));
    std::string error;
    auto t = GeoTable::from_bytes(b.finish(1, 0), error);
    ASSERT_TRUE(t) << error;
    auto tier = [&](const CompiledMap& cm, const char* a) {
        return cm.find(*IpAddress::parse(a)).chain->steps[0].tier;
    };
    ASSERT_EQ(m.nearest.max_accuracy_km, 500);  // the default bound
    const auto cm = CompiledMap::compile(m, t.get());
    EXPECT_EQ(tier(cm, "10.0.0.7"), Tier::kNearest);
    EXPECT_EQ(tier(cm, "10.0.1.7"), Tier::kDefault);  // 1,000 km > 500: passed
    EXPECT_EQ(tier(cm, "10.0.2.7"), Tier::kNearest);  // no radius: no reason to doubt it
    m.nearest.max_accuracy_km = 0;                    // no bound
    const auto all = CompiledMap::compile(m, t.get());
    EXPECT_EQ(tier(all, "10.0.1.7"), Tier::kNearest);
    m.nearest.max_accuracy_km = 10;  // tighter than Lisbon's 20 km
    const auto tight = CompiledMap::compile(m, t.get());
    EXPECT_EQ(tier(tight, "10.0.0.7"), Tier::kDefault);
    GeoTableFact f{};
    f.flags = GeoTableFact::kHasLocation;
    EXPECT_EQ(location_use(f, 500), LocationUse::kZero);
    f.latitude = 1;
    f.accuracy_radius = 501;
    EXPECT_EQ(location_use(f, 500), LocationUse::kVague);
    EXPECT_EQ(location_use(f, 0), LocationUse::kUsable);
    f.flags = 0;
    EXPECT_EQ(location_use(f, 500), LocationUse::kNone);
}

TEST(Nearest, NodesWithinTheMarginShareByCapacity) {
    const EdgeSet e = three_nodes();
    // From Frankfurt, Paris is ~480 km away and Madrid ~1,420 km: with a
    // 1,000 km margin Frankfurt and Paris tie, Madrid is the failover.
    const MapEntry tie =
        nearest_entry(nearest_map(e, 1000).nearest, kFrankfurt.lat, kFrankfurt.lon);
    ASSERT_EQ(tie.members.size(), 3u);
    EXPECT_EQ(tie.members[0].node, 1u);
    EXPECT_EQ(tie.members[1].node, 2u);
    EXPECT_EQ(tie.members[0].weight, tie.members[1].weight);
    EXPECT_GT(tie.members[1].weight, tie.members[2].weight);
    const MapEntry strict =
        nearest_entry(nearest_map(e, 10).nearest, kFrankfurt.lat, kFrankfurt.lon);
    EXPECT_GT(strict.members[0].weight, strict.members[1].weight);
}
