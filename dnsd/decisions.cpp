#include "dnsd/decisions.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>

#include "common/hash.hpp"

namespace signpost::dnsd {

using common::Family;
using common::Uint128;

const char* tier_name(Tier t) {
    switch (t) {
        case Tier::kCidr:
            return "cidr";
        case Tier::kAsn:
            return "asn";
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
    Chain::Step asn, country, continent;
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
    const MapEntry* e[3];
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

template <class T>
void CompiledMap::build_index(Ranges<T>& r, unsigned shift) {
    r.index.assign(65537, 0);
    std::size_t i = 0;
    for (std::uint32_t hi = 0; hi < 65536; ++hi) {
        const T first = static_cast<T>(static_cast<T>(hi) << shift);
        while (i + 1 < r.starts.size() && r.starts[i + 1] <= first) ++i;
        r.index[hi] = static_cast<std::uint32_t>(i);
    }
    r.index[65536] = static_cast<std::uint32_t>(r.starts.size() - 1);
}

CompiledMap CompiledMap::compile(const GeoMap& map, const common::GeoTable* table) {
    CompiledMap cm;
    const bool geo = map.needs_geo();
    if (geo && !table) return cm;  // not ready: fallback until a table arrives
    cm.ready_ = true;
    const common::GeoTable* t = geo ? table : nullptr;

    // What each fact of the table leads to in this map, found once per fact.
    std::vector<FactSteps> facts(t ? t->fact_count() : 0);
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
    }
    static const FactSteps kNone;

    std::unordered_map<ChainKey, std::uint32_t, ChainKeyHash> interned;
    auto chain_of = [&](const FactSteps& fs, int cidr) -> std::uint32_t {
        const ChainKey key{cidr, {fs.asn.entry, fs.country.entry, fs.continent.entry}};
        auto [it, added] = interned.try_emplace(key, 0);
        if (!added) return it->second;
        Chain c;
        if (cidr >= 0) {
            const auto& [prefix, entry] = map.cidr[static_cast<std::size_t>(cidr)];
            c.steps[c.size++] = {Tier::kCidr, &entry, &prefix, 0, nullptr};
        }
        for (const Chain::Step* s : {&fs.asn, &fs.country, &fs.continent})
            if (s->entry) c.steps[c.size++] = *s;
        c.steps[c.size++] = {Tier::kDefault, &map.default_entry, nullptr, 0, nullptr};
        it->second = static_cast<std::uint32_t>(cm.chains_.size());
        cm.chains_.push_back(c);
        return it->second;
    };

    for (Family f : {Family::kV4, Family::kV6}) {
        const auto segs = override_segments(map, f);
        const std::size_t nt = t ? t->range_count(f) : 1;
        auto t_start = [&](std::size_t i) -> Uint128 { return t ? t->range_start(f, i) : 0; };
        auto t_fact = [&](std::size_t i) -> const FactSteps& {
            return t ? facts[t->range_fact(f, i)] : kNone;
        };
        std::vector<Uint128> starts;
        std::vector<std::uint32_t> chain;
        // Walk table ranges and override segments together: every point where
        // either changes starts an elementary range.
        std::size_t i = 0, j = 0;
        std::uint32_t last_fact = ~0u;
        int last_cidr = -2;
        std::uint32_t last_chain = 0;
        for (;;) {
            const Uint128 s = std::max(t_start(i), segs[j].first);
            const std::uint32_t fid = t ? t->range_fact(f, i) : 0;
            if (fid != last_fact || segs[j].second != last_cidr) {
                last_chain = chain_of(t_fact(i), segs[j].second);
                last_fact = fid;
                last_cidr = segs[j].second;
            }
            if (chain.empty() || chain.back() != last_chain) {
                starts.push_back(s);
                chain.push_back(last_chain);
            }
            const bool more_t = i + 1 < nt, more_o = j + 1 < segs.size();
            if (!more_t && !more_o) break;
            if (more_t && (!more_o || t_start(i + 1) <= segs[j + 1].first)) {
                if (more_o && t_start(i + 1) == segs[j + 1].first) ++j;
                ++i;
            } else {
                ++j;
            }
        }
        if (f == Family::kV4) {
            cm.v4_.starts.reserve(starts.size());
            for (Uint128 v : starts) cm.v4_.starts.push_back(static_cast<std::uint32_t>(v));
            cm.v4_.chain = std::move(chain);
            build_index(cm.v4_, 16);
        } else {
            cm.v6_.starts = std::move(starts);
            cm.v6_.chain = std::move(chain);
            build_index(cm.v6_, 112);
        }
    }
    return cm;
}

CompiledMap::Hit CompiledMap::find(const common::IpAddress& a) const {
    const Uint128 x = common::address_value(a);
    if (a.is_v4()) {
        const auto v = static_cast<std::uint32_t>(x);
        const auto& r = v4_;
        std::size_t lo = r.index[v >> 16], hi = r.index[(v >> 16) + 1];
        while (lo < hi) {
            const std::size_t mid = lo + (hi - lo + 1) / 2;
            if (r.starts[mid] <= v)
                lo = mid;
            else
                hi = mid - 1;
        }
        const Uint128 end = lo + 1 < r.starts.size() ? Uint128{r.starts[lo + 1]} - 1 : 0xffffffffu;
        return {&chains_[r.chain[lo]], common::prefix_len_within(x, r.starts[lo], end, 32)};
    }
    const auto& r = v6_;
    const auto top = static_cast<std::uint32_t>(x >> 112);
    std::size_t lo = r.index[top], hi = r.index[top + 1];
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo + 1) / 2;
        if (r.starts[mid] <= x)
            lo = mid;
        else
            hi = mid - 1;
    }
    const Uint128 end = lo + 1 < r.starts.size() ? r.starts[lo + 1] - 1 : ~Uint128{0};
    return {&chains_[r.chain[lo]], common::prefix_len_within(x, r.starts[lo], end, 128)};
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

}  // namespace signpost::dnsd
