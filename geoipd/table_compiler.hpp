#pragma once
// Compiles the served databases into one geo table (common/geo_table.hpp):
// every database's search tree is walked into ranges, the ranges of all
// databases are swept together, and each piece gets the facts a per-database
// lookup and merge would give it. Lookups then cost one search in one flat
// array, and other processes can map the same table (docs/geo-table.md).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/geo_answer.hpp"
#include "common/ip_address.hpp"
#include "geoipd/database.hpp"

namespace signpost::geoipd {

struct CompileStats {
    std::size_t v4_ranges = 0;
    std::size_t v6_ranges = 0;
    std::size_t facts = 0;
    std::size_t bytes = 0;
    std::size_t tree_leaves = 0;  // leaves read from all the search trees (before merging)
    double milliseconds = 0;
};

// The merge rule, the one place it is written: found if any database found;
// each field from the first database (in command-line order) that has it; a
// missing continent derived from the country. `hits` are in database order.
// The prefix and generation are left to the caller.
common::GeoFactsView merge_hits(const DatabaseHit* const* hits, std::size_t n);

// Asks every database and merges, the way geoipd answered before the table
// (the prefix is the most specific of the databases' prefixes). Only the
// tests use it, as the reference the compiled table must agree with.
common::GeoFactsView merge_lookup(const std::vector<std::shared_ptr<const Database>>& dbs,
                                  const common::IpAddress& addr);

// The table image for `dbs`, or an empty string with `error` naming the
// database and the problem (a search tree deeper than its address width, an
// invalid record, or one whose walk never ends because it is aliased into
// itself). Never throws on bad input.
std::string compile_table(const std::vector<std::shared_ptr<const Database>>& dbs,
                          std::uint64_t generation, std::string& error,
                          CompileStats* stats = nullptr);

}  // namespace signpost::geoipd
