#pragma once
// A map compiled against the geo table into decision ranges: for every range
// of client addresses, the chain of map entries a redirect walks for it (CIDR
// override, ASN, country, continent, default), neighbouring ranges with the
// same chain merged, overrides splitting ranges where they begin and end.
// Built aside whenever the table or the map changes; a query then costs one
// lookup (IPv4: a direct index on the top 16 bits, then a short binary
// search; IPv6: a search tree of one cache line per level) and the health
// and weight choice within the chain. The range a client falls in
// is also its ECS scope: every address of the widest prefix around the
// client inside the range walks the same chain.

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "common/geo_table.hpp"
#include "common/ip_address.hpp"
#include "common/search_tree.hpp"
#include "dnsd/redirect/nodes.hpp"

namespace signpost::dnsd {
inline namespace redirect {

enum class Tier {
    kCidr,
    kAsn,
    kNearest,
    kCountry,
    kContinent,
    kDefault,
    kFallback,
    kFailOpen,
    kNone
};
const char* tier_name(Tier t);

// The entries one range of clients walks, most specific first.
struct Chain {
    struct Step {
        Tier tier = Tier::kNone;
        const MapEntry* entry = nullptr;
        const common::Prefix* cidr = nullptr;  // kCidr: the override
        std::uint32_t asn = 0;                 // kAsn
        const std::string* code = nullptr;     // kCountry, kContinent: the map's key
    };
    std::array<Step, 6> steps;
    std::uint8_t size = 0;
};

// What a lookup finds for one client address.
struct RangeHit {
    const Chain* chain = nullptr;
    unsigned scope = 0;  // the widest prefix around the address inside its range
};

class CompiledMap {
  public:
    // `table` may be null: then a map with geo tiers is not ready (its
    // redirects answer from the fallback pool) and one without is compiled
    // from its overrides alone.
    static CompiledMap compile(const GeoMap& map, const common::GeoTable* table);
    bool ready() const { return ready_; }

    using Hit = RangeHit;
    Hit find(const common::IpAddress& a) const;
    // find() of every address of a batch (out[i] for a[i]; a map not ready
    // finds no chain), the searches advancing together a step at a time and
    // prefetching their next probe, so that the batch's cache misses overlap:
    // one search alone waits for each of its misses in turn.
    void find_batch(std::span<const common::IpAddress> a, std::span<Hit> out) const;

    std::size_t ranges(common::Family f) const {
        return f == common::Family::kV4 ? v4_.size() : v6_.size();
    }
    std::size_t chains() const { return chains_.size(); }
    // The nearest tier's entries: one per distinct ordering of the pool.
    std::size_t nearest_entries() const { return nearest_ ? nearest_->size() : 0; }
    std::size_t memory_bytes() const;

  private:
    // Each range's first address and its chain, side by side: one cache
    // line per probe.
    struct R4 {
        std::uint32_t start;
        std::uint32_t chain;
    };
    struct R6 {
        std::uint64_t hi, lo;  // the first address's halves
        std::uint32_t chain;
        common::Uint128 start() const { return (common::Uint128{hi} << 64) | lo; }
    };
    void build_indexes();
    static void index_v4(const std::vector<R4>& r, std::vector<std::uint32_t>& index);
    Hit find_v4(const std::vector<R4>& r, const std::vector<std::uint32_t>& index,
                std::uint32_t v) const;
    // The hits of range lo of r (v4) or v6_ (v6), lo the last starting at or
    // before the address (v6: the last whose first address's high half is).
    Hit hit_v4(const std::vector<R4>& r, std::size_t lo, std::uint32_t v) const;
    Hit hit_v6(std::size_t lo, common::Uint128 x) const;
    static constexpr std::size_t kLanes = 64;  // find_batch's searches at once
    void find_lanes(std::span<const common::IpAddress> a, std::span<Hit> out) const;
    bool ready_ = false;
    // IPv6 ranges that alias the IPv4 table (chain = common::kIpv4Alias | d)
    // are decided by the IPv4 address they carry: in v4_ when the map has no
    // IPv4 overrides, else in v4_geo_ (the IPv4 ranges without overrides).
    bool alias_uses_v4_ = true;
    std::vector<R4> v4_geo_;
    std::vector<std::uint32_t> v4_geo_index_;
    // Aliases wholly under an IPv6 override: the override (an index into
    // GeoMap::cidr) per slot, and per slot the chain for each geo chain.
    std::vector<int> alias_cidr_;
    std::vector<std::vector<std::uint32_t>> alias_chains_;
    std::vector<Chain> chains_;
    // The nearest tier's entries (chains point into them; shared, so that a
    // copy of this map points into the same).
    std::shared_ptr<std::deque<MapEntry>> nearest_;
    std::vector<R4> v4_;
    std::vector<R6> v6_;
    // IPv4: for each value of the top 16 bits, the range holding the first
    // address of that block (65,537 entries: the last closes the search).
    // (A search tree measured slower here: its five levels cost more
    // instructions than the few misses of a block's binary search.)
    std::vector<std::uint32_t> v4_index_;
    // IPv6: a search tree over the ranges' first addresses' high halves.
    // The ranges crowd into a few blocks (one /28 of the CC0 data holds
    // 93,000 networks), so a direct index on the top bits left binary
    // searches of a dozen cache misses; the tree's upper levels stay cached
    // and leave one or two.
    common::SearchTree<std::uint64_t> v6_tree_;
};

// Every map of an EdgeSet compiled against one table: part of the serving
// state, so a query always sees maps and table of one moment.
struct Decisions {
    std::shared_ptr<const common::GeoTable> table;  // nullptr: none received yet
    std::vector<CompiledMap> maps;                  // in EdgeSet::maps order
    double compile_ms = 0;
};

// Great-circle distance in kilometres (haversine, mean Earth radius).
double distance_km(double lat1, double lon1, double lat2, double lon2);
// Whether a geo fact's coordinates can be used: 0,0 is GeoIP's "somewhere"
// (it puts clients in the sea off West Africa), so it counts as unknown, and
// so does a location whose accuracy radius is over `max_accuracy_km` (0: no
// bound; a radius the database does not give passes).
enum class LocationUse { kUsable, kNone, kZero, kVague };
LocationUse location_use(const common::GeoTableFact& f, double max_accuracy_km);
inline bool usable_location(const common::GeoTableFact& f, double max_accuracy_km = 0) {
    return location_use(f, max_accuracy_km) == LocationUse::kUsable;
}
// The nearest tier's entry for a client at lat, lon (empty: no node in range).
MapEntry nearest_entry(const NearestConfig& n, double lat, double lon);

std::shared_ptr<const Decisions> compile_decisions(const EdgeSet& edges,
                                                   std::shared_ptr<const common::GeoTable> table);

}  // namespace redirect
}  // namespace signpost::dnsd
