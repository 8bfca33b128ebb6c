#pragma once
// A secondary zone's records as dnsd takes them from a primary: read from
// the messages of an AXFR (RFC 5936) or IXFR (RFC 1995) answer, applied to
// the copy dnsd has, and written as a master file that the zone loader (the
// same one as for every zone) reads back before it is served.

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {
inline namespace zone {

// Every record of a zone, ordered (so the file written is the same for the
// same data): key = owner (lower-case wire) + type (2 octets) + uncompressed
// rdata; value = TTL. A set, as RFC 2181 5 says an RRset is.
using RecordSet = std::map<std::string, std::uint32_t>;

std::string record_key(std::string_view owner, std::uint16_t type,
                       std::span<const std::uint8_t> rdata);
// The static records of a loaded zone (its computed names are not records).
RecordSet records_of(const Zone& z);
// The master file for `records`: `header` as comment lines, then one record a
// line (absolute names, RFC 3597 generic form for types ldns does not know).
// False with `error` if a record cannot be written.
bool zone_text(const RecordSet& records, const std::string& header, std::string& out,
               std::string& error);

// Reads the answer to one transfer request, message by message.
class TransferReader {
  public:
    enum class Status { kMore, kDone, kError };
    enum class Kind { kCurrent, kFull, kIncremental };

    // `origin`: lower-case wire; `id`: the request's. `have` (with its
    // serial): the copy an IXFR was asked from; nullptr for an AXFR.
    TransferReader(std::string origin, std::uint16_t id, const RecordSet* have,
                   std::uint32_t have_serial, std::size_t max_records = 5'000'000);
    Status feed(std::span<const std::uint8_t> message);

    // After kDone: what came, and the zone as it is now (kFull, kIncremental).
    Kind kind() const { return kind_; }
    std::uint32_t serial() const { return serial_; }
    RecordSet& records() { return result_; }
    std::size_t changes() const { return changes_; }  // records deleted + added, or sent
    std::size_t steps() const { return steps_; }      // kIncremental: versions passed
    // After kError.
    const std::string& error() const { return error_; }

  private:
    Status fail(std::string what);
    Status record(std::string key, std::uint16_t type, std::uint32_t ttl,
                  std::span<const std::uint8_t> rdata);
    Status finish();

    enum class Phase { kFirst, kSecond, kAxfr, kIxfrDeleting, kIxfrAdding, kDone };
    std::string origin_;
    std::uint16_t id_;
    const RecordSet* have_;
    std::uint32_t have_serial_;
    std::size_t max_records_;
    Phase phase_ = Phase::kFirst;
    Kind kind_ = Kind::kFull;
    std::uint32_t serial_ = 0;   // the new serial (the first SOA's)
    std::string first_soa_key_;  // that SOA, to end an AXFR-style answer
    std::uint32_t first_soa_ttl_ = 0;
    std::uint32_t step_to_ = 0;  // IXFR: the serial the current step leads to
    std::string step_soa_key_;   // and its SOA record
    std::uint32_t step_soa_ttl_ = 0;
    RecordSet result_;
    std::size_t changes_ = 0, steps_ = 0, messages_ = 0, received_ = 0;
    std::string error_;
};

// The serial of SOA rdata (uncompressed), and its refresh, retry, expire.
struct SoaTimers {
    std::uint32_t serial = 0, refresh = 0, retry = 0, expire = 0;
};
SoaTimers soa_timers(std::span<const std::uint8_t> rdata);

}  // namespace zone
}  // namespace signpost::dnsd
