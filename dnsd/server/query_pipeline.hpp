#pragma once
// One query, from bytes to response bytes, the same for every transport: parse,
// the answer cache, the responder with the worker's per-thread state (compiled
// maps, health view, round robin), counters. A UDP worker and a TCP server
// each own one per thread; a new EDNS option or policy is written here (or
// below, in the responder) once and reaches both. What stays per transport
// is only what the transport itself means: batching and prefetching and
// response rate limiting for UDP, framing and backpressure for TCP.

#include <cstdint>
#include <memory>
#include <span>

#include "common/ip_address.hpp"
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

    // Starts the cache misses of the redirect lookups `clients` will need
    // (the whole batch's, before any is answered, so they overlap). `scratch`
    // receives each well-formed query's client key address.
    void prefetch(std::span<const Query> queries, std::span<const ParseStatus> status,
                  std::span<const common::IpAddress> sources,
                  std::span<common::IpAddress> scratch) const;

    // The response to a parsed query into `out`; returns its length, 0: none.
    // `in` is the query's bytes (the answer cache's key). Only UDP answers are
    // cached: a UDP answer may be truncated where the TCP one is not.
    std::size_t answer(const Query& q, ParseStatus status, std::span<const std::uint8_t> in,
                       const common::IpAddress& source, Transport transport,
                       std::span<std::uint8_t> out);

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
    std::uint64_t generation_ = 0;
    Query query_;  // answer_message()'s
};

}  // namespace server
}  // namespace signpost::dnsd
