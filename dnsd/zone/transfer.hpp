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

// What the TCP server sends a secondary, one message at a time.
class TransferStream {
  public:
    virtual ~TransferStream() = default;
    // Writes the next message into `out` (at least 64 KiB); returns its
    // length (at most 65535 - kTsigRoom), 0 once the transfer is complete.
    virtual std::size_t next(std::span<std::uint8_t> out) = 0;
    // A record too large for any message stopped it (next() returned 0 early).
    virtual bool failed() const = 0;
    virtual std::uint64_t records() const = 0;
    virtual const Zone& zone() const = 0;
    static constexpr std::size_t kTsigRoom = 512;
};

class AxfrStream : public TransferStream {
  public:
    // Messages are filled to about this size (a full 64 KiB message costs
    // the reader more latency for no fewer round trips).
    static constexpr std::size_t kTargetMessage = 16384;

    // `keep` owns `zone` (the serving state); `query` is the AXFR (or IXFR)
    // request: its ID and question are echoed.
    AxfrStream(std::shared_ptr<const void> keep, const Zone& zone, const Query& query,
               std::span<const std::uint8_t> question);
    std::size_t next(std::span<std::uint8_t> out) override;  // 0 once the SOA went twice
    bool done() const { return phase_ == Phase::kDone; }
    bool failed() const override { return failed_; }
    std::uint64_t records() const override { return records_; }
    const Zone& zone() const override { return zone_; }

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

// An incremental transfer (IXFR, RFC 1995): the current SOA, then for each
// step of the zone's history from the client's serial, the old SOA, the
// records deleted, the new SOA, the records added; the current SOA again.
// From the current serial itself: the SOA alone ("you are current").
class IxfrStream : public TransferStream {
  public:
    // `from`: the first step of zone.history to send (history.size(): none).
    IxfrStream(std::shared_ptr<const void> keep, const Zone& zone, const Query& query,
               std::span<const std::uint8_t> question, std::size_t from);
    std::size_t next(std::span<std::uint8_t> out) override;
    bool failed() const override { return failed_; }
    std::uint64_t records() const override { return at_; }
    const Zone& zone() const override { return zone_; }
    std::size_t changes() const { return items_.size(); }

  private:
    struct Item {
        const std::uint8_t* owner;
        std::uint16_t type;
        std::uint32_t ttl;
        const Record* record;
    };
    std::shared_ptr<const void> keep_;
    const Zone& zone_;
    std::uint16_t id_;
    bool rd_;
    std::vector<std::uint8_t> question_;
    std::vector<Item> items_;
    std::size_t at_ = 0;
    bool failed_ = false;
};

}  // namespace zone
}  // namespace signpost::dnsd
