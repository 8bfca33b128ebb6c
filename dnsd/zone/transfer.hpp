#pragma once
// A zone transfer (AXFR, RFC 5936) as the messages a TCP connection sends,
// one at a time: the SOA, every RRset of every name (redirect names as their
// transfer_records()), the SOA again. The stream holds the serving state it
// started on, so a reload during a transfer changes nothing for it, and it
// writes a message only when asked: a slow reader holds one connection's
// bounded output, never the whole zone.

#include <cstdint>
#include <memory>
#include <span>

#include "dnsd/wire/query.hpp"
#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {
inline namespace zone {

class AxfrStream {
  public:
    // Messages are filled to about this size (a full 64 KiB message costs
    // the reader more latency for no fewer round trips).
    static constexpr std::size_t kTargetMessage = 16384;
    // Left free at the end of every message for a TSIG record.
    static constexpr std::size_t kTsigRoom = 512;

    // `keep` owns `zone` (the serving state); `query` is the AXFR (or IXFR)
    // request: its ID and question are echoed.
    AxfrStream(std::shared_ptr<const void> keep, const Zone& zone, const Query& query,
               std::span<const std::uint8_t> question);
    // Writes the next message into `out` (at least 64 KiB); returns its
    // length (at most 65535 - kTsigRoom), 0 once the SOA has been sent twice.
    std::size_t next(std::span<std::uint8_t> out);
    bool done() const { return phase_ == Phase::kDone; }
    // A record too large for any message stopped it (next() returned 0 early).
    bool failed() const { return failed_; }
    std::uint64_t records() const { return records_; }
    const Zone& zone() const { return zone_; }

  private:
    enum class Phase { kFirstSoa, kNames, kLastSoa, kDone };
    std::shared_ptr<const void> keep_;
    const Zone& zone_;
    std::uint16_t id_;
    bool rd_;
    std::vector<std::uint8_t> question_;  // the question as asked (name, type, class)
    Phase phase_ = Phase::kFirstSoa;
    NodeMap::const_iterator node_;
    std::size_t rrset_ = 0, record_ = 0;
    int dynamic_ = 0;  // at a dynamic node: 0 A, 1 AAAA, 2 done
    std::uint64_t records_ = 0;
    bool failed_ = false;
};

}  // namespace zone
}  // namespace signpost::dnsd
