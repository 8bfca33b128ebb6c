#pragma once
// The databases geoipd serves from, as one immutable snapshot. A reload builds
// a new set (reusing the unchanged Database objects) and publishes it; readers
// of the old set keep it, and its replaced files, alive until they finish.

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/geo_answer.hpp"
#include "geoipd/database.hpp"

namespace signpost::geoipd {

class DatabaseSet {
  public:
    DatabaseSet(std::vector<std::shared_ptr<const Database>> dbs, std::uint64_t generation);

    // Asks every database and merges: the prefix is the most specific one any
    // database answered with (an address range on which *every* database's
    // answer is constant, so a cache keyed by it is never wrong); each field
    // comes from the first database, in command-line order, that has it; a
    // missing continent is derived from the country.
    common::GeoFactsView lookup(const common::IpAddress& addr) const;

    const std::vector<std::shared_ptr<const Database>>& databases() const { return dbs_; }
    std::uint64_t generation() const { return generation_; }

    // {"generation":N,"databases":[{"file":..,"type":..,"kind":..,...}]}
    void append_info_json(std::string& out) const;

  private:
    std::vector<std::shared_ptr<const Database>> dbs_;
    std::uint64_t generation_;
};

}  // namespace signpost::geoipd
