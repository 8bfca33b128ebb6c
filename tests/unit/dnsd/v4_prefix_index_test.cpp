#include "dnsd/v4_prefix_index.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>

using signpost::dnsd::V4PrefixIndex;

namespace {

// The obvious implementation: a list of (start, len, value), non-nesting.
struct Reference {
    struct P {
        std::uint32_t start;
        unsigned len;
        std::uint32_t value;
    };
    std::vector<P> v;
    static std::uint32_t last(const P& p) {
        return p.start + static_cast<std::uint32_t>((std::uint64_t{1} << (32 - p.len)) - 1);
    }
    void insert(std::uint32_t s, unsigned l, std::uint32_t val) {
        P n{s, l, val};
        std::erase_if(v, [&](const P& p) { return !(last(p) < n.start || last(n) < p.start); });
        v.push_back(n);
    }
    void erase(std::uint32_t s, unsigned l, std::uint32_t val) {
        std::erase_if(v, [&](const P& p) { return p.start == s && p.len == l && p.value == val; });
    }
    std::uint32_t find(std::uint32_t a) const {
        for (const auto& p : v)
            if (a >= p.start && a <= last(p)) return p.value;
        return V4PrefixIndex::kNone;
    }
};

}  // namespace

TEST(V4PrefixIndex, ShortAndLongPrefixes) {
    V4PrefixIndex x;
    x.insert(0x0a000000, 8, 1);   // 10.0.0.0/8
    x.insert(0x51024000, 18, 2);  // 81.2.64.0/18
    x.insert(0x51024500, 29, 3);  // 81.2.69.0/29: overlaps /18, which is dropped
    x.insert(0xc0000200, 24, 4);  // 192.0.2.0/24
    EXPECT_EQ(x.find(0x0a123456), 1u);
    EXPECT_EQ(x.find(0x0b000000), V4PrefixIndex::kNone);
    EXPECT_EQ(x.find(0x51024507), 3u);
    EXPECT_EQ(x.find(0x51024508), V4PrefixIndex::kNone);
    EXPECT_EQ(x.find(0x51024000), V4PrefixIndex::kNone);  // the /18 is gone
    EXPECT_EQ(x.find(0xc00002ff), 4u);
    EXPECT_EQ(x.find_exact(0xc0000200, 24), 4u);
    EXPECT_EQ(x.find_exact(0xc0000200, 25), V4PrefixIndex::kNone);
    x.erase(0xc0000200, 24, 99);  // not its value: stays
    EXPECT_EQ(x.find(0xc0000201), 4u);
    x.erase(0xc0000200, 24, 4);
    EXPECT_EQ(x.find(0xc0000201), V4PrefixIndex::kNone);
    x.erase(0x0a000000, 8, 1);
    EXPECT_EQ(x.find(0x0a123456), V4PrefixIndex::kNone);
    x.insert(0, 0, 7);  // 0.0.0.0/0
    EXPECT_EQ(x.find(0xffffffff), 7u);
    EXPECT_EQ(x.find(0x51024507), 7u);
}

TEST(V4PrefixIndex, AgreesWithAReferenceUnderRandomChurn) {
    std::mt19937 rng(20261123);
    V4PrefixIndex x;
    Reference ref;
    // Addresses concentrated in a few /16s so that long prefixes share buckets.
    auto addr = [&] {
        const std::uint32_t base[] = {0x0a000000, 0x0a010000, 0x51020000, 0xc0a80000};
        return rng() % 4 ? base[rng() % 4] | (rng() & 0xffff) : static_cast<std::uint32_t>(rng());
    };
    // Values are unique among live prefixes (in GeoSource: cache slots).
    std::uint32_t next_value = 0;
    for (int round = 0; round < 20000; ++round) {
        const unsigned len = rng() % 4 == 0 ? 8 + rng() % 9 : 17 + rng() % 16;
        const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
        const std::uint32_t start = addr() & mask;
        if (rng() % 3 || ref.v.empty()) {
            const std::uint32_t value = next_value++;
            x.insert(start, len, value);
            ref.insert(start, len, value);
        } else if (rng() % 2) {
            const auto p = ref.v[rng() % ref.v.size()];  // a live one
            x.erase(p.start, p.len, p.value);
            ref.erase(p.start, p.len, p.value);
        } else {
            x.erase(start, len, next_value + 5);  // no such value: no change
        }
        for (int k = 0; k < 4; ++k) {
            const std::uint32_t a = addr();
            ASSERT_EQ(x.find(a), ref.find(a)) << "round " << round << " address " << a;
        }
        if (round % 5000 == 4999) {
            for (const auto& p : ref.v) ASSERT_EQ(x.find(p.start), p.value);
        }
    }
    x.clear();
    EXPECT_EQ(x.find(0x0a000001), V4PrefixIndex::kNone);
}
