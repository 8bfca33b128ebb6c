#pragma once
// The databases geoipd serves from, as one immutable snapshot, with the geo
// table compiled from them (lookups are answered from the table). A reload
// builds a new set (reusing the unchanged Database objects) and publishes it;
// readers of the old set keep it, its table and its replaced files alive
// until they finish.

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/geo_answer.hpp"
#include "common/geo_table.hpp"
#include "geoipd/database.hpp"
#include "geoipd/table_compiler.hpp"

namespace signpost::geoipd {

class DatabaseSet {
  public:
    // Compiles the table for `dbs`, puts it in a sealed memfd (which the set
    // keeps, to pass to clients) and maps it back, validated as any reader
    // would. nullptr with `error` when any step fails: no set without a table.
    static std::shared_ptr<const DatabaseSet> build(
        std::vector<std::shared_ptr<const Database>> dbs, std::uint64_t generation,
        std::string& error, CompileStats* stats = nullptr);
    DatabaseSet(std::vector<std::shared_ptr<const Database>> dbs, std::uint64_t generation,
                std::shared_ptr<const common::GeoTable> table);

    // From the table: the facts are what merge_hits() makes of every
    // database's answer (each field from the first database, in command-line
    // order, that has it; a missing continent derived from the country); the
    // prefix is the widest one around the address inside its merged range, so
    // every address in it has the same answer and a cache keyed by it is
    // never wrong. It is often wider than any one database's network, where
    // neighbouring networks agree.
    common::GeoFactsView lookup(const common::IpAddress& addr) const;

    const std::shared_ptr<const common::GeoTable>& table() const { return table_; }

    const std::vector<std::shared_ptr<const Database>>& databases() const { return dbs_; }
    std::uint64_t generation() const { return generation_; }

    // {"generation":N,"databases":[{"file":..,"type":..,"kind":..,...}],"table":{..}}
    void append_info_json(std::string& out) const;

  private:
    std::vector<std::shared_ptr<const Database>> dbs_;
    std::uint64_t generation_;
    std::shared_ptr<const common::GeoTable> table_;
};

}  // namespace signpost::geoipd
