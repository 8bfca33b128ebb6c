#pragma once
// One opened .mmdb file: its MMDB_s, the schema found in it, and a lookup that
// reads fields through prepared paths. Immutable once opened; the strings a
// lookup returns point into the mapped file and live as long as this object
// (which is why a Database is only ever reached through a snapshot).

#include <maxminddb.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "common/file_watch.hpp"
#include "common/ip_address.hpp"
#include "geoipd/schema.hpp"

namespace signpost::geoipd {

struct DatabaseHit {
    unsigned prefix_len = 0;  // in the address's own family (IPv4: 0..32)
    bool found = false;
    std::string_view country;
    std::string_view continent;
    std::uint32_t asn = 0;
    std::string_view as_org;
    bool has_location = false;
    double latitude = 0;
    double longitude = 0;
    std::uint32_t accuracy_radius = 0;  // km, 0: unknown
};

class Database {
  public:
    // Opens and validates `spec.path`: metadata, every search-tree node, and
    // every distinct data record is decoded once, so a truncated or corrupt file
    // is refused here and never reaches the serving path. Returns nullptr with
    // `error` naming the file and the problem.
    static std::unique_ptr<Database> open(const DatabaseSpec& spec, std::string& error);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    // Never fails for a validated database; lookup errors (which would mean the
    // file changed under us) are reported as not found with prefix 0.
    DatabaseHit lookup(const common::IpAddress& addr) const;
    // The facts of one data record (an entry from a lookup or MMDB_read_node),
    // read through the schema as lookup() reads them; `found` is set and
    // `prefix_len` left 0. The table compiler decodes each record once with it.
    DatabaseHit decode(const MMDB_entry_s& entry) const;
    // The open file, for walking its search tree (MMDB_read_node).
    const MMDB_s& mmdb() const { return mmdb_; }

    const std::string& path() const { return path_; }
    const Schema& schema() const { return schema_; }
    std::string database_type() const { return mmdb_.metadata.database_type; }
    std::uint64_t build_epoch() const { return mmdb_.metadata.build_epoch; }
    unsigned ip_version() const { return mmdb_.metadata.ip_version; }
    std::uint32_t node_count() const { return mmdb_.metadata.node_count; }
    std::time_t loaded_at() const { return loaded_at_; }
    std::uint64_t data_records() const { return data_records_; }
    // The file as stat() saw it just before it was opened.
    const common::FileWatcher::Identity& file_identity() const { return identity_; }

  private:
    Database() = default;
    bool validate(std::string& error);
    void detect_schema(const DatabaseSpec& spec);
    bool read_string(const MMDB_entry_s& entry, Field f, std::string_view& out) const;

    std::string path_;
    MMDB_s mmdb_{};
    bool opened_ = false;
    Schema schema_;
    std::time_t loaded_at_ = 0;
    std::uint64_t data_records_ = 0;
    common::FileWatcher::Identity identity_;
    std::vector<MMDB_entry_s> samples_;  // records used for schema detection
};

}  // namespace signpost::geoipd
