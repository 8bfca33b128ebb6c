#include "dnsd/server/rrl.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace signpost::dnsd;
using signpost::common::IpAddress;
using V = RateLimiter::Verdict;

namespace {
std::vector<V> run(const RateLimiter& r, const char* ip, std::uint64_t what, std::uint32_t now,
                   int n) {
    std::vector<V> out;
    const auto a = *IpAddress::parse(ip);
    for (int i = 0; i < n; ++i) out.push_back(r.check(a, what, now));
    return out;
}
}  // namespace

TEST(RateLimiter, RateThenAlternatingSlipAndDropPerSecond) {
    RrlConfig c;
    c.responses_per_second = 3;
    c.slip = 2;
    RateLimiter r(c);
    EXPECT_EQ(run(r, "192.0.2.1", 7, 100, 8),
              (std::vector<V>{V::kSend, V::kSend, V::kSend, V::kDrop, V::kSlip, V::kDrop, V::kSlip,
                              V::kDrop}));
    // The same /24 shares the count; another /24, another kind, the next second do not.
    EXPECT_EQ(run(r, "192.0.2.200", 7, 100, 1), std::vector<V>{V::kSlip});
    EXPECT_EQ(run(r, "192.0.3.1", 7, 100, 3), std::vector<V>(3, V::kSend));
    EXPECT_EQ(run(r, "192.0.2.1", 8, 100, 3), std::vector<V>(3, V::kSend));
    EXPECT_EQ(run(r, "192.0.2.1", 7, 101, 3), std::vector<V>(3, V::kSend));
    EXPECT_EQ(run(r, "192.0.2.1", 7, 101, 1), std::vector<V>{V::kDrop});
}

TEST(RateLimiter, SlipZeroDropsAllSlipOneSlipsAll) {
    RrlConfig c;
    c.responses_per_second = 1;
    c.slip = 0;
    RateLimiter drop(c);
    EXPECT_EQ(run(drop, "192.0.2.1", 1, 5, 4),
              (std::vector<V>{V::kSend, V::kDrop, V::kDrop, V::kDrop}));
    c.slip = 1;
    RateLimiter slip(c);
    EXPECT_EQ(run(slip, "192.0.2.1", 1, 5, 3), (std::vector<V>{V::kSend, V::kSlip, V::kSlip}));
}

TEST(RateLimiter, Ipv6NetblocksAndFamiliesApart) {
    RrlConfig c;
    c.responses_per_second = 2;
    c.slip = 0;
    RateLimiter r(c);
    // Same /56: one count; another /56: its own.
    EXPECT_EQ(run(r, "2001:db8:0:1::1", 3, 9, 2), std::vector<V>(2, V::kSend));
    EXPECT_EQ(run(r, "2001:db8:0:ff::2", 3, 9, 1), std::vector<V>{V::kDrop});
    EXPECT_EQ(run(r, "2001:db8:0:100::1", 3, 9, 2), std::vector<V>(2, V::kSend));
    // An IPv4 block whose bytes begin like an IPv6 one is not the same block.
    EXPECT_EQ(run(r, "32.1.13.184", 3, 9, 2), std::vector<V>(2, V::kSend));
}
