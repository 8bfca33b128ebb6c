#pragma once
// One query, from bytes to response bytes, the same for every transport: parse,
// the answer cache, the responder with the worker's per-thread state (compiled
// maps, health view, round robin), counters. A UDP worker and a TCP server
// each own one per thread; a new EDNS option or policy is written here (or
// below, in the responder) once and reaches both. What stays per transport
// is only what the transport itself means: batching (and its lookups made together) and
// response rate limiting for UDP, framing and backpressure for TCP.

#include <cstdint>
#include <memory>
#include <span>

#include "common/ip_address.hpp"
#include "dnsd/redirect/decisions.hpp"
#include "dnsd/redirect/health_view.hpp"
#include "dnsd/stats/worker_stats.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/wire/tsig.hpp"
#include "dnsd/zone/answer_cache.hpp"
#include "dnsd/zone/dynamic_answer.hpp"
#include "dnsd/zone/responder.hpp"

namespace signpost::dnsd {
inline namespace server {

struct ServingState;

class QueryPipeline {
  public:
    explicit QueryPipeline(WorkerStats& stats) : stats_(stats) {}

    // The state and health every query is answered with until end(): once
    // per UDP batch, once per TCP read. Held (not borrowed) until end(), which
    // lets them go, so an idle worker never pins a replaced state (its zones
    // and compiled maps) until its next query.
    void begin(std::shared_ptr<const ServingState> state,
               std::shared_ptr<const HealthState> health);
    void end();

    // Parses one message (oversize: longer than the transport accepts, FORMERR).
    static ParseStatus parse(std::span<const std::uint8_t> in, bool oversize, Query& q);

    // The decision-range lookups a batch's redirects will need, made for the
    // well-formed queries together (which are redirects is known only when
    // answering), so that their cache misses overlap; answer() with a
    // query's place in the batch uses them. At most kMaxLookups queries; a
    // map not ready is not looked up, and with more than kMaxLookupMaps maps
    // nothing is (each redirect then searches alone). `scratch` receives the
    // well-formed queries' client key addresses, packed, a run of queries
    // from one address once (it shares one search). Returns how many
    // searches were made.
    static constexpr std::size_t kMaxLookups = 64;
    static constexpr std::size_t kMaxLookupMaps = 4;  // with more maps, each redirect its own
    std::size_t look_up(std::span<const Query> queries, std::span<const ParseStatus> status,
                        std::span<const common::IpAddress> sources,
                        std::span<common::IpAddress> scratch);

    // The response to a parsed query into `out`; returns its length, 0: none.
    // `in` is the query's bytes (the answer cache's key). Only UDP answers are
    // cached: a UDP answer may be truncated where the TCP one is not.
    // `looked_up`: the query's place in the last look_up() (kNone: not in it).
    static constexpr std::size_t kNone = ~std::size_t{0};
    std::size_t answer(const Query& q, ParseStatus status, std::span<const std::uint8_t> in,
                       const common::IpAddress& source, Transport transport,
                       std::span<std::uint8_t> out, std::size_t looked_up = kNone);

    // parse() and answer() in one, for a transport that answers one at a time.
    std::size_t answer_message(std::span<const std::uint8_t> in, const common::IpAddress& source,
                               Transport transport, std::span<std::uint8_t> out);

    WorkerStats& stats() { return stats_; }

  private:
    // A query with a TSIG record: checked, and the answer signed.
    std::size_t answer_signed(const Query& q, std::span<const std::uint8_t> in,
                              const common::IpAddress& source, Transport transport,
                              std::span<std::uint8_t> out);
    WorkerStats& stats_;
    std::shared_ptr<const ServingState> state_;
    std::shared_ptr<const HealthState> health_source_;
    QueryEnv env_;
    HealthFor health_;
    AnswerCache cache_;  // static UDP answers; emptied when the serving state changes
    // look_up()'s results: per query of the batch, per map (chain nullptr:
    // not looked up); valid for lookups_ queries, until end().
    RangeHit hits_[kMaxLookups][kMaxLookupMaps];
    std::size_t lookups_ = 0;
    std::uint64_t generation_ = 0;
    Query query_;  // answer_message()'s
};

}  // namespace server
}  // namespace signpost::dnsd
