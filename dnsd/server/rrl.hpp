#pragma once
// Response rate limiting for UDP (after BIND's and Knot's RRL): an
// authoritative server answers spoofed sources too, and so can be made to
// reflect traffic at a victim. Responses are counted per second per (client
// netblock, what the response is: a name and type for answers, the zone for
// NXDOMAIN, the rcode for errors); over the rate, a response is dropped, or
// every `slip`-th one goes out empty with TC=1 so a real client retries over
// TCP (a spoofed source cannot). TCP, and clients that return a valid server
// cookie (their address is proven), are never limited. Off by default: large
// resolvers share addresses, so an operator sets the rate.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/ip_address.hpp"

namespace signpost::dnsd {
inline namespace server {

struct RrlConfig {
    unsigned responses_per_second = 0;  // 0: off
    unsigned slip = 2;                  // every slip-th limited response is sent TC=1; 0: none
    unsigned ipv4_prefix = 24;
    unsigned ipv6_prefix = 56;
    unsigned table_size = 65536;  // counting cells (rounded up to a power of two)
};

class RateLimiter {
  public:
    explicit RateLimiter(const RrlConfig& c);
    enum class Verdict { kSend, kSlip, kDrop };
    // Counts one response of kind `what` to `client` in second `now`. Shared by
    // every worker: cells are atomics, updated without locks (a race can lose
    // a count, which only makes the limit a little looser).
    Verdict check(const common::IpAddress& client, std::uint64_t what, std::uint32_t now) const;
    const RrlConfig& config() const { return config_; }

  private:
    RrlConfig config_;
    std::uint64_t mask_;
    // tag (24) | second (16) | count (24)
    std::unique_ptr<std::atomic<std::uint64_t>[]> cells_;
};

}  // namespace server
}  // namespace signpost::dnsd
