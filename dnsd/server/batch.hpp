#pragma once
// Answering a batch of UDP datagrams, apart from the socket calls: parse
// every query, answer every query (redirects from the maps compiled against
// the geo table, static names from the answer cache when they repeat). The UDP worker wraps it
// in recvmmsg/sendmmsg; bench/dnsd_packet_bench runs it alone to measure the
// userspace cost per query, which the kernel's UDP path hides in qps figures.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/server/query_pipeline.hpp"
#include "dnsd/stats/worker_stats.hpp"
#include "dnsd/wire/query.hpp"

namespace signpost::dnsd {
inline namespace server {

struct ServingState;

struct Batch {
    // Datagrams per batch: enough to amortise a syscall, few enough that a
    // batch is answered within microseconds.
    static constexpr unsigned kSize = 64;
    // A query larger than this is not one we answer (the largest sane one,
    // with a 255-octet name, OPT, ECS and a cookie, is under 400 octets);
    // reading into a bigger buffer lets oversize input be seen and refused
    // rather than parsed silently truncated.
    static constexpr std::size_t kInSize = 4096;
    static constexpr std::size_t kOutSize = 4096;  // edns_payload is capped at 4096 by the config
    // Buffers are kStride apart, not 4096: at a 4 KiB stride the first line of
    // all 128 buffers maps to the same L1 cache set, and a batch evicts itself.
    static constexpr std::size_t kStride = 4096 + 64;

    // In: filled by the caller for datagrams [0, n).
    std::uint8_t in[kSize][kStride];
    std::size_t in_len[kSize];
    bool oversize[kSize];  // longer than kInSize (MSG_TRUNC): FORMERR
    common::IpAddress source[kSize];
    // Out: the answer to datagram i; out_len[i] == 0: none (not to be answered).
    std::uint8_t out[kSize][kStride];
    std::size_t out_len[kSize];

    // Working space.
    Query query[kSize];
    ParseStatus status[kSize];
    common::IpAddress client[kSize];  // the redirect client keys looked up
};
static_assert(Batch::kSize <= QueryPipeline::kMaxLookups);

// One per worker thread: the UDP side of the query pipeline (batching,
// the batch's lookups, response rate limiting) around the worker's QueryPipeline.
class BatchAnswerer {
  public:
    explicit BatchAnswerer(WorkerStats& stats) : pipeline_(stats) {}
    void answer(Batch& b, unsigned n, const std::shared_ptr<const ServingState>& state,
                const std::shared_ptr<const HealthState>& health);
    // The decision-range lookups the last batch made together (for tests).
    std::size_t lookups() const { return lookups_; }

  private:
    // Response rate limiting (UDP only): drops or slips answers over the rate.
    void limit(Batch& b, unsigned n, const ServingState& state);
    QueryPipeline pipeline_;
    std::size_t lookups_ = 0;
};

}  // namespace server
}  // namespace signpost::dnsd
