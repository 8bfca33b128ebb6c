#pragma once
// A map compiled against the geo table into decision ranges: for every range
// of client addresses, the chain of map entries a redirect walks for it (CIDR
// override, ASN, country, continent, default), neighbouring ranges with the
// same chain merged, overrides splitting ranges where they begin and end.
// Built aside whenever the table or the map changes; a query then costs one
// lookup (a direct index on the top 16 bits, then a short binary search) and
// the health and weight choice within the chain. The range a client falls in
// is also its ECS scope: every address of the widest prefix around the
// client inside the range walks the same chain.

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/geo_table.hpp"
#include "common/ip_address.hpp"
#include "dnsd/edge.hpp"

namespace signpost::dnsd {

enum class Tier { kCidr, kAsn, kCountry, kContinent, kDefault, kFallback, kFailOpen, kNone };
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
    std::array<Step, 5> steps;
    std::uint8_t size = 0;
};

class CompiledMap {
  public:
    // `table` may be null: then a map with geo tiers is not ready (its
    // redirects answer from the fallback pool) and one without is compiled
    // from its overrides alone.
    static CompiledMap compile(const GeoMap& map, const common::GeoTable* table);
    bool ready() const { return ready_; }

    struct Hit {
        const Chain* chain;
        unsigned scope;  // the widest prefix around the address inside its range
    };
    Hit find(const common::IpAddress& a) const;

    std::size_t ranges(common::Family f) const {
        return f == common::Family::kV4 ? v4_.starts.size() : v6_.starts.size();
    }
    std::size_t chains() const { return chains_.size(); }

  private:
    template <class T>
    struct Ranges {
        std::vector<T> starts;  // ascending, starts[0] == 0
        std::vector<std::uint32_t> chain;
        std::vector<std::uint32_t>
            index;  // top 16 bits -> range holding that block's first address
    };
    template <class T>
    static void build_index(Ranges<T>& r, unsigned shift);
    bool ready_ = false;
    std::vector<Chain> chains_;
    Ranges<std::uint32_t> v4_;
    Ranges<common::Uint128> v6_;
};

// Every map of an EdgeSet compiled against one table: part of the serving
// state, so a query always sees maps and table of one moment.
struct Decisions {
    std::shared_ptr<const common::GeoTable> table;  // nullptr: none received yet
    std::vector<CompiledMap> maps;                  // in EdgeSet::maps order
    double compile_ms = 0;
};

std::shared_ptr<const Decisions> compile_decisions(const EdgeSet& edges,
                                                   std::shared_ptr<const common::GeoTable> table);

}  // namespace signpost::dnsd
