#include "dnsd/redirect/decisions.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <unordered_map>

#include "common/hash.hpp"

namespace signpost::dnsd {
inline namespace redirect {

using common::Family;
using common::Uint128;

const char* tier_name(Tier t) {
    switch (t) {
        case Tier::kCidr:
            return "cidr";
        case Tier::kAsn:
            return "asn";
        case Tier::kNearest:
            return "nearest";
        case Tier::kCountry:
            return "country";
        case Tier::kContinent:
            return "continent";
        case Tier::kDefault:
            return "default";
        case Tier::kFallback:
            return "fallback";
        case Tier::kFailOpen:
            return "fail-open";
        case Tier::kNone:
            return "none";
    }
    return "?";
}

namespace {

unsigned width(Family f) {
    return f == Family::kV4 ? 32 : 128;
}
Uint128 last_address(Family f) {
    return f == Family::kV4 ? Uint128{0xffffffffu} : ~Uint128{0};
}

// The map entries a table fact leads to.
struct FactSteps {
    Chain::Step asn, nearest, country, continent;
};

// The overrides of one family as segments partitioning the space: each
// segment's first address and the most specific override holding it (-1: none).
std::vector<std::pair<Uint128, int>> override_segments(const GeoMap& m, Family f) {
    struct O {
        Uint128 lo, hi;
        unsigned len;
        int idx;
    };
    std::vector<O> os;
    const unsigned bits = width(f);
    for (std::size_t i = 0; i < m.cidr.size(); ++i) {
        const auto& p = m.cidr[i].first;
        if (p.family() != f) continue;
        const Uint128 lo = common::address_value(p.address());
        const Uint128 host =
            p.length() == 0 ? last_address(f) : (Uint128{1} << (bits - p.length())) - 1;
        os.push_back({lo, lo | host, p.length(), static_cast<int>(i)});
    }
    // Outer prefixes before the ones nested at the same start; of two equal
    // prefixes the first listed ends on top of the stack (it wins, as before).
    std::sort(os.begin(), os.end(), [](const O& a, const O& b) {
        if (a.lo != b.lo) return a.lo < b.lo;
        if (a.len != b.len) return a.len < b.len;
        return a.idx > b.idx;
    });
    std::vector<std::pair<Uint128, int>> out;
    std::vector<std::size_t> open;  // nested: the top ends first
    std::size_t k = 0;
    Uint128 pos = 0;
    for (;;) {
        while (!open.empty() && os[open.back()].hi < pos) open.pop_back();
        while (k < os.size() && os[k].lo == pos) open.push_back(k++);
        const int top = open.empty() ? -1 : os[open.back()].idx;
        if (out.empty() || out.back().second != top) out.emplace_back(pos, top);
        bool more = false;
        Uint128 next = 0;
        if (!open.empty() && os[open.back()].hi != last_address(f)) {
            next = os[open.back()].hi + 1;
            more = true;
        }
        if (k < os.size() && (!more || os[k].lo < next)) {
            next = os[k].lo;
            more = true;
        }
        if (!more) break;
        pos = next;
    }
    return out;
}

struct ChainKey {
    int cidr;
    const MapEntry* e[4];
    bool operator==(const ChainKey&) const = default;
};
struct ChainKeyHash {
    std::size_t operator()(const ChainKey& k) const {
        std::uint64_t h = common::mix64(static_cast<std::uint64_t>(k.cidr + 1));
        for (const MapEntry* e : k.e) h = common::mix64(h ^ reinterpret_cast<std::uintptr_t>(e));
        return h;
    }
};

}  // namespace

double distance_km(double lat1, double lon1, double lat2, double lon2) {
    constexpr double kRadius = 6371.0088, kRad = 3.14159265358979323846 / 180;
    const double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
    const double a =
        std::sin(dlat / 2) * std::sin(dlat / 2) +
        std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * kRadius * std::asin(std::min(1.0, std::sqrt(a)));
}

LocationUse location_use(const common::GeoTableFact& f, double max_accuracy_km) {
    if (!(f.flags & common::GeoTableFact::kHasLocation) || !(f.latitude >= -90) ||
        !(f.latitude <= 90) || !(f.longitude >= -180) || !(f.longitude <= 180))
        return LocationUse::kNone;
    if (f.latitude == 0 && f.longitude == 0) return LocationUse::kZero;
    if (max_accuracy_km > 0 && f.accuracy_radius > max_accuracy_km) return LocationUse::kVague;
    return LocationUse::kUsable;
}

MapEntry nearest_entry(const NearestConfig& n, double lat, double lon) {
    // Weights make the failover order (higher first); nodes within the
    // margin of a band's nearest share its weight, and so its clients, by
    // capacity (the pick's rendezvous hashing). Distances are rounded to a
    // metre so that the same place always gives the same order.
    std::vector<std::pair<double, std::uint32_t>> by_distance;
    for (const auto& node : n.nodes) {
        const double d = std::round(distance_km(lat, lon, node.latitude, node.longitude) * 1000);
        if (n.radius_km > 0 && d > n.radius_km * 1000) continue;
        by_distance.emplace_back(d, node.node);
    }
    std::sort(by_distance.begin(), by_distance.end());
    if (by_distance.size() > n.candidates) by_distance.resize(n.candidates);
    MapEntry e;
    std::uint32_t weight = 1000000;
    double band = by_distance.empty() ? 0 : by_distance.front().first;
    for (const auto& [d, node] : by_distance) {
        if (d > band + n.margin_km * 1000) {
            --weight;
            band = d;
        }
        e.members.push_back({node, weight});
    }
    return e;
}

void CompiledMap::index_v4(const std::vector<R4>& r, std::vector<std::uint32_t>& index) {
    index =
        common::block_index<std::uint32_t>(r.size(), 16, [&](std::size_t i) { return r[i].start; });
}

CompiledMap::Hit CompiledMap::find_v4(const std::vector<R4>& r,
                                      const std::vector<std::uint32_t>& index,
                                      std::uint32_t v) const {
    return hit_v4(r,
                  common::last_range_at_or_before(index[v >> 16], index[(v >> 16) + 1], v,
                                                  [&](std::size_t i) { return r[i].start; }),
                  v);
}

void CompiledMap::build_indexes() {
    index_v4(v4_, v4_index_);
    if (!v4_geo_.empty()) index_v4(v4_geo_, v4_geo_index_);
    std::vector<std::uint64_t> hi(v6_.size());
    for (std::size_t i = 0; i < v6_.size(); ++i) hi[i] = v6_[i].hi;
    v6_tree_.build(hi);
}

std::size_t CompiledMap::memory_bytes() const {
    return chains_.size() * sizeof(Chain) + (v4_.size() + v4_geo_.size()) * sizeof(R4) +
           v6_.size() * sizeof(R6) + (v4_index_.size() + v4_geo_index_.size()) * 4 +
           v6_tree_.memory_bytes();
}

CompiledMap CompiledMap::compile(const GeoMap& map, const common::GeoTable* table) {
    CompiledMap cm;
    const bool geo = map.needs_geo();
    if (geo && !table) return cm;  // not ready: fallback until a table arrives
    cm.ready_ = true;
    const common::GeoTable* t = geo ? table : nullptr;

    // What each fact of the table leads to in this map, found once per fact.
    std::vector<FactSteps> facts(t ? t->fact_count() : 0);
    // The nearest tier: one entry per distinct ordering of the pool, so
    // that facts (and so ranges) with the same ordering share one chain.
    std::map<std::vector<std::pair<std::uint32_t, std::uint32_t>>, const MapEntry*> orderings;
    if (map.has_nearest) cm.nearest_ = std::make_shared<std::deque<MapEntry>>();
    for (std::size_t i = 0; i < facts.size(); ++i) {
        const auto& f = t->fact(static_cast<std::uint32_t>(i));
        auto& s = facts[i];
        if (f.asn != 0)
            if (auto it = map.asn.find(f.asn); it != map.asn.end())
                s.asn = {Tier::kAsn, &it->second, nullptr, f.asn, nullptr};
        if (f.country[0])
            if (auto it = map.country.find(std::string(f.country, 2)); it != map.country.end())
                s.country = {Tier::kCountry, &it->second, nullptr, 0, &it->first};
        if (f.continent[0])
            if (auto it = map.continent.find(std::string(f.continent, 2));
                it != map.continent.end())
                s.continent = {Tier::kContinent, &it->second, nullptr, 0, &it->first};
        if (map.has_nearest && usable_location(f, map.nearest.max_accuracy_km)) {
            MapEntry e = nearest_entry(map.nearest, f.latitude, f.longitude);
            if (!e.members.empty()) {
                std::vector<std::pair<std::uint32_t, std::uint32_t>> key;
                for (const auto& m : e.members) key.emplace_back(m.node, m.weight);
                auto [it, added] = orderings.try_emplace(std::move(key), nullptr);
                if (added) {
                    cm.nearest_->push_back(std::move(e));
                    it->second = &cm.nearest_->back();
                }
                s.nearest = {Tier::kNearest, it->second, nullptr, 0, nullptr};
            }
        }
    }
    static const FactSteps kNone;

    std::unordered_map<ChainKey, std::uint32_t, ChainKeyHash> interned;
    auto chain_of = [&](const FactSteps& fs, int cidr) -> std::uint32_t {
        const ChainKey key{cidr,
                           {fs.asn.entry, fs.nearest.entry, fs.country.entry, fs.continent.entry}};
        auto [it, added] = interned.try_emplace(key, 0);
        if (!added) return it->second;
        Chain c;
        if (cidr >= 0) {
            const auto& [prefix, entry] = map.cidr[static_cast<std::size_t>(cidr)];
            c.steps[c.size++] = {Tier::kCidr, &entry, &prefix, 0, nullptr};
        }
        for (const auto& tier : map.tiers) {
            const Chain::Step* s = tier == "asn"       ? &fs.asn
                                   : tier == "nearest" ? &fs.nearest
                                   : tier == "country" ? &fs.country
                                                       : &fs.continent;
            if (s->entry) c.steps[c.size++] = *s;
        }
        c.steps[c.size++] = {Tier::kDefault, &map.default_entry, nullptr, 0, nullptr};
        it->second = static_cast<std::uint32_t>(cm.chains_.size());
        cm.chains_.push_back(c);
        return it->second;
    };

    // An alias range's marker: the alias's length and, when an IPv6 override
    // covers the whole alias, which one (a slot in cm.alias_cidr_, from 1).
    auto alias_marker = [&](unsigned d, int cidr) -> std::uint32_t {
        std::uint32_t slot = 0;
        if (cidr >= 0) {
            auto it = std::find(cm.alias_cidr_.begin(), cm.alias_cidr_.end(), cidr);
            if (it == cm.alias_cidr_.end()) it = cm.alias_cidr_.insert(it, cidr);
            slot = static_cast<std::uint32_t>(it - cm.alias_cidr_.begin()) + 1;
        }
        return common::kIpv4Alias | (slot << 7) | d;
    };
    // An IPv4-mapped client (::ffff:a.b.c.d, as an ECS address) has the facts
    // of its IPv4 address whatever the databases hold there, as geoipd has
    // always answered it (the table's lookup unmaps too): the block is an
    // IPv4 alias here, or its IPv4 ranges spelled out where an IPv6 override
    // cuts into it.
    auto map_ipv4_mapped_block = [&](std::vector<std::pair<Uint128, std::uint32_t>>& src,
                                     const std::vector<std::pair<Uint128, int>>& segs) {
        const Uint128 first = Uint128{0xffff} << 32, last = first | 0xffffffffu;
        auto starts_after = [](const auto& e, Uint128 v) { return e.first < v; };
        auto lo = std::lower_bound(src.begin(), src.end(), first, starts_after);
        auto hi = std::lower_bound(src.begin(), src.end(), last + 1, starts_after);
        // The range holding `last + 1` resumes after the block.
        const auto& holder = *(hi == src.begin() ? hi : hi - 1);
        if (common::is_ipv4_alias(holder.second)) return;  // (inside a wider alias: as it is)
        const std::pair<Uint128, std::uint32_t> resume{last + 1, holder.second};
        const bool resume_needed = hi == src.end() || hi->first != last + 1;
        auto seg = std::upper_bound(segs.begin(), segs.end(), first,
                                    [](Uint128 v, const auto& x) { return v < x.first; });
        --seg;
        const bool whole = seg + 1 == segs.end() || (seg + 1)->first > last;
        std::vector<std::pair<Uint128, std::uint32_t>> block;
        if (whole) {
            block.emplace_back(first, alias_marker(96, seg->second));
        } else {
            for (std::size_t k = 0; k < t->range_count(Family::kV4); ++k)
                block.emplace_back(first | t->range_start(Family::kV4, k),
                                   t->range_fact(Family::kV4, k));
        }
        if (resume_needed) block.push_back(resume);
        const auto at = src.erase(lo, hi);
        src.insert(at, block.begin(), block.end());
    };
    // The table's ranges of a family as (start, fact index) or, for an IPv6
    // range that aliases the IPv4 table, (start, alias marker). An alias that
    // an IPv6 override cuts into is spelled out as the IPv4 ranges it stands
    // for, so that the override splits them like any other range.
    auto table_source = [&](Family f, const std::vector<std::pair<Uint128, int>>& segs) {
        std::vector<std::pair<Uint128, std::uint32_t>> src;
        if (!t) {
            src.emplace_back(0, 0);
            return src;
        }
        const std::size_t n = t->range_count(f);
        src.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            const Uint128 start = t->range_start(f, i);
            const std::uint32_t fact = t->range_fact(f, i);
            if (f == Family::kV4 || !common::is_ipv4_alias(fact)) {
                src.emplace_back(start, fact);
                continue;
            }
            const Uint128 end = t->range_end(f, i);
            auto seg = std::upper_bound(segs.begin(), segs.end(), start,
                                        [](Uint128 v, const auto& x) { return v < x.first; });
            --seg;
            // One override (or none) over the whole alias: it stays one range.
            if (seg + 1 == segs.end() || (seg + 1)->first > end) {
                src.emplace_back(start, alias_marker(common::alias_offset(fact), seg->second));
                continue;
            }
            const unsigned shift = 96 - common::alias_offset(fact);
            for (std::size_t k = 0; k < t->range_count(Family::kV4); ++k)
                src.emplace_back(start | (t->range_start(Family::kV4, k) << shift),
                                 t->range_fact(Family::kV4, k));
        }
        if (f == Family::kV6) map_ipv4_mapped_block(src, segs);
        return src;
    };
    // Walks table ranges and override segments together: every point where
    // either changes starts an elementary range; neighbours with the same
    // chain merge. An alias range stays one range, marked.
    bool any_alias = false;
    auto build = [&](Family f, const std::vector<std::pair<Uint128, int>>& segs,
                     const std::vector<std::pair<Uint128, std::uint32_t>>& src,
                     std::vector<std::pair<Uint128, std::uint32_t>>& out) {
        std::size_t i = 0, j = 0;
        std::uint32_t last_fact = ~0u;
        int last_cidr = -2;
        std::uint32_t last_chain = 0;
        for (;;) {
            const Uint128 start = std::max(src[i].first, segs[j].first);
            const std::uint32_t fid = src[i].second;
            std::uint32_t chain;
            if (f == Family::kV6 && t && common::is_ipv4_alias(fid)) {
                chain = fid;  // resolved through the IPv4 ranges at query time
                any_alias = true;
                last_fact = ~0u;
            } else {
                if (fid != last_fact || segs[j].second != last_cidr) {
                    last_chain = chain_of(t ? facts[fid] : kNone, segs[j].second);
                    last_fact = fid;
                    last_cidr = segs[j].second;
                }
                chain = last_chain;
            }
            if (out.empty() || out.back().second != chain || common::is_ipv4_alias(chain))
                out.emplace_back(start, chain);
            const bool more_t = i + 1 < src.size(), more_o = j + 1 < segs.size();
            if (!more_t && !more_o) break;
            if (more_t && (!more_o || src[i + 1].first <= segs[j + 1].first)) {
                if (more_o && src[i + 1].first == segs[j + 1].first) ++j;
                ++i;
            } else {
                ++j;
            }
        }
    };
    std::vector<std::pair<Uint128, std::uint32_t>> v4_src;
    for (Family f : {Family::kV4, Family::kV6}) {
        const auto segs = override_segments(map, f);
        auto src = table_source(f, segs);
        std::vector<std::pair<Uint128, std::uint32_t>> out;
        build(f, segs, src, out);
        for (const auto& [start, chain] : out) {
            if (f == Family::kV4)
                cm.v4_.push_back({static_cast<std::uint32_t>(start), chain});
            else
                cm.v6_.push_back({static_cast<std::uint64_t>(start >> 64),
                                  static_cast<std::uint64_t>(start), chain});
        }
        if (f == Family::kV4) v4_src = std::move(src);
    }
    // An IPv6 client in an alias takes the IPv4 ranges' geo chain, but never
    // an IPv4 override: with IPv4 overrides in the map, the aliases get IPv4
    // ranges of their own, compiled without them.
    cm.alias_uses_v4_ = true;
    if (any_alias) {
        bool v4_overrides = false;
        for (const auto& c : map.cidr)
            v4_overrides = v4_overrides || c.first.family() == Family::kV4;
        if (v4_overrides) {
            cm.alias_uses_v4_ = false;
            const std::vector<std::pair<Uint128, int>> none{{0, -1}};
            std::vector<std::pair<Uint128, std::uint32_t>> out;
            build(Family::kV4, none, v4_src, out);
            for (const auto& [start, chain] : out)
                cm.v4_geo_.push_back({static_cast<std::uint32_t>(start), chain});
        }
        // An alias under an IPv6 override walks that override first, then the
        // geo chain of the IPv4 address it carries: for each such override,
        // the chain to use for each geo chain, made now.
        const auto& geo_ranges = cm.alias_uses_v4_ ? cm.v4_ : cm.v4_geo_;
        for (const int cidr : cm.alias_cidr_) {
            std::vector<std::uint32_t> with(cm.chains_.size(), 0);
            for (const auto& r : geo_ranges) {
                if (r.chain >= with.size() || with[r.chain] != 0) continue;
                FactSteps fs;
                const Chain base = cm.chains_[r.chain];
                for (std::size_t k = 0; k < base.size; ++k) {
                    const auto& st = base.steps[k];
                    if (st.tier == Tier::kAsn) fs.asn = st;
                    if (st.tier == Tier::kNearest) fs.nearest = st;
                    if (st.tier == Tier::kCountry) fs.country = st;
                    if (st.tier == Tier::kContinent) fs.continent = st;
                }
                with[r.chain] = chain_of(fs, cidr) + 1;
            }
            for (auto& w : with) w = w == 0 ? 0 : w - 1;
            cm.alias_chains_.push_back(std::move(with));
        }
    }
    cm.v4_.shrink_to_fit();
    cm.v6_.shrink_to_fit();
    cm.build_indexes();
    return cm;
}

CompiledMap::Hit CompiledMap::hit_v4(const std::vector<R4>& r, std::size_t lo,
                                     std::uint32_t v) const {
    const Uint128 end = lo + 1 < r.size() ? Uint128{r[lo + 1].start} - 1 : 0xffffffffu;
    return {&chains_[r[lo].chain], common::prefix_len_within(v, r[lo].start, end, 32)};
}

CompiledMap::Hit CompiledMap::hit_v6(std::size_t lo, Uint128 x) const {
    // Ranges sharing the high half (only prefixes longer than /64 make them)
    // are stepped back over to the last one starting at or before x, or
    // searched when many.
    const auto xhi = static_cast<std::uint64_t>(x >> 64);
    const auto xlo = static_cast<std::uint64_t>(x);
    for (int step = 0; v6_[lo].hi == xhi && v6_[lo].lo > xlo; ++step, --lo) {
        if (step == 8) {
            lo = common::last_range_at_or_before(std::size_t{0}, lo, x,
                                                 [&](std::size_t i) { return v6_[i].start(); });
            break;
        }
    }
    const std::uint32_t chain = v6_[lo].chain;
    if (common::is_ipv4_alias(chain)) {
        // The IPv4 address this one carries decides; the scope is the
        // alias's length plus the IPv4 range's.
        const unsigned d = common::alias_offset(chain);
        const std::uint32_t v4 = common::aliased_ipv4(x, d);
        const Hit h =
            alias_uses_v4_ ? find_v4(v4_, v4_index_, v4) : find_v4(v4_geo_, v4_geo_index_, v4);
        if (const std::uint32_t slot = (chain >> 7) & 0xffffffu; slot != 0) {
            const auto geo = static_cast<std::size_t>(h.chain - chains_.data());
            return {&chains_[alias_chains_[slot - 1][geo]], d + h.scope};
        }
        return {h.chain, d + h.scope};
    }
    const Uint128 end = lo + 1 < v6_.size() ? v6_[lo + 1].start() - 1 : ~Uint128{0};
    return {&chains_[chain], common::prefix_len_within(x, v6_[lo].start(), end, 128)};
}

CompiledMap::Hit CompiledMap::find(const common::IpAddress& a) const {
    const Uint128 x = common::address_value(a);
    if (a.is_v4()) return find_v4(v4_, v4_index_, static_cast<std::uint32_t>(x));
    // The last range whose first address's high half is <= x's (there is
    // one: the first range starts at ::), then hit_v6's step back.
    return hit_v6(v6_tree_.upper_bound(static_cast<std::uint64_t>(x >> 64)) - 1, x);
}

void CompiledMap::find_batch(std::span<const common::IpAddress> a, std::span<Hit> out) const {
    if (!ready_) {  // nothing to search: no chain
        std::fill_n(out.begin(), a.size(), Hit{});
        return;
    }
    for (std::size_t at = 0; at < a.size(); at += kLanes) {
        const std::size_t n = std::min(kLanes, a.size() - at);
        find_lanes(a.subspan(at, n), out.subspan(at, n));
    }
}

void CompiledMap::find_lanes(std::span<const common::IpAddress> a, std::span<Hit> out) const {
    // The searches of find(), each a lane: a pass takes every lane one step
    // and prefetches the line its next step reads. What follows the range
    // entry (hit_v6's step back, an alias's IPv4 search) is per lane, at the end.
    std::uint32_t v4[kLanes], lo4[kLanes], len4[kLanes];
    std::uint8_t at4[kLanes], at6[kLanes];
    std::uint64_t hi6[kLanes];
    Uint128 x6[kLanes];
    std::size_t lo6[kLanes];
    std::size_t n4 = 0, n6 = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const Uint128 x = common::address_value(a[i]);
        if (a[i].is_v4()) {
            v4[n4] = static_cast<std::uint32_t>(x);
            __builtin_prefetch(&v4_index_[v4[n4] >> 16]);
            at4[n4++] = static_cast<std::uint8_t>(i);
        } else {
            x6[n6] = x;
            hi6[n6] = static_cast<std::uint64_t>(x >> 64);
            at6[n6++] = static_cast<std::uint8_t>(i);
        }
    }
    // IPv6: the tree, every lane a level per pass; then the range's entry.
    v6_tree_.upper_bound_batch(std::span<const std::uint64_t>(hi6, n6), std::span(lo6, n6));
    for (std::size_t j = 0; j < n6; ++j) {
        lo6[j] -= 1;
        __builtin_prefetch(&v6_[lo6[j]]);
        __builtin_prefetch(v6_.data() + lo6[j] + 1);  // the next range's start: this one's end
    }
    // IPv4: the block of the top 16 bits, then one halving of its binary
    // search per pass (last_range_at_or_before's steps, over [lo, lo + len - 1]).
    unsigned passes = 0;
    for (std::size_t j = 0; j < n4; ++j) {
        const std::uint32_t block = v4[j] >> 16;
        lo4[j] = v4_index_[block];
        len4[j] = v4_index_[block + 1] - lo4[j] + 1;
        passes = std::max(passes, static_cast<unsigned>(std::bit_width(len4[j] - 1)));
        __builtin_prefetch(&v4_[lo4[j] + len4[j] / 2]);
    }
    const auto start_of = [&](std::uint32_t i) { return v4_[i].start; };
    for (unsigned p = 0; p < passes; ++p) {
        for (std::size_t j = 0; j < n4; ++j) {
            if (len4[j] <= 1) continue;
            common::range_search_step(lo4[j], len4[j], v4[j], start_of);
            __builtin_prefetch(&v4_[lo4[j] + len4[j] / 2]);
        }
    }
    for (std::size_t j = 0; j < n4; ++j) out[at4[j]] = hit_v4(v4_, lo4[j], v4[j]);
    for (std::size_t j = 0; j < n6; ++j) out[at6[j]] = hit_v6(lo6[j], x6[j]);
}

std::shared_ptr<const Decisions> compile_decisions(const EdgeSet& edges,
                                                   std::shared_ptr<const common::GeoTable> table) {
    const auto t0 = std::chrono::steady_clock::now();
    auto d = std::make_shared<Decisions>();
    d->table = std::move(table);
    d->maps.reserve(edges.maps.size());
    for (const auto& [name, map] : edges.maps)
        d->maps.push_back(CompiledMap::compile(map, d->table.get()));
    d->compile_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return d;
}

}  // namespace redirect
}  // namespace signpost::dnsd
