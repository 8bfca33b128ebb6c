#include "dnsd/server/rrl.hpp"

#include <algorithm>

#include "common/hash.hpp"
#include "dnsd/redirect/select.hpp"

namespace signpost::dnsd {
inline namespace server {

RateLimiter::RateLimiter(const RrlConfig& c) : config_(c) {
    std::uint64_t size = 1024;
    while (size < c.table_size) size <<= 1;
    mask_ = size - 1;
    cells_ = std::make_unique<std::atomic<std::uint64_t>[]>(size);
    for (std::uint64_t i = 0; i < size; ++i) cells_[i].store(0, std::memory_order_relaxed);
}

RateLimiter::Verdict RateLimiter::check(const common::IpAddress& client, std::uint64_t what,
                                        std::uint32_t now) const {
    // The client's netblock (the family is mixed in: an IPv4 block never
    // equals an IPv6 one), with the kind of response.
    const auto block = client.masked(client.is_v4() ? config_.ipv4_prefix : config_.ipv6_prefix);
    const std::uint64_t key = common::mix64(subnet_hash(block) ^ common::mix64(what));
    std::atomic<std::uint64_t>& cell = cells_[key & mask_];
    const std::uint64_t tag = key >> 40, second = now & 0xffff;
    constexpr std::uint64_t kCountMask = (1u << 24) - 1;
    const std::uint64_t old = cell.load(std::memory_order_relaxed);
    std::uint64_t count = 1;
    if ((old >> 40) == tag && ((old >> 24) & 0xffff) == second)
        count = std::min<std::uint64_t>((old & kCountMask) + 1, kCountMask);
    cell.store(tag << 40 | second << 24 | count, std::memory_order_relaxed);
    if (count <= config_.responses_per_second) return Verdict::kSend;
    const std::uint64_t over = count - config_.responses_per_second;
    return config_.slip != 0 && over % config_.slip == 0 ? Verdict::kSlip : Verdict::kDrop;
}

}  // namespace server
}  // namespace signpost::dnsd
