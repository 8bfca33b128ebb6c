#include "common/search_tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <span>
#include <vector>

namespace signpost::common {
namespace {

// Against std::upper_bound on sorted keys with repeats and the extremes, at
// sizes around every node and level boundary.
template <class K>
void check_against_upper_bound(std::mt19937_64& rng, std::size_t n, K spread) {
    std::vector<K> keys(n);
    std::uniform_int_distribution<K> d(0, spread);
    for (auto& k : keys) k = d(rng);
    if (n > 2) {
        keys[0] = 0;
        keys[1] = std::numeric_limits<K>::max();
    }
    std::sort(keys.begin(), keys.end());
    const SearchTree<K> tree(keys);
    ASSERT_EQ(tree.size(), n);
    std::vector<K> probes = {0, 1, std::numeric_limits<K>::max(),
                             static_cast<K>(std::numeric_limits<K>::max() - 1)};
    for (const K k : keys) {
        probes.push_back(k);
        if (k > 0) probes.push_back(static_cast<K>(k - 1));
        probes.push_back(static_cast<K>(k + 1));
    }
    for (int i = 0; i < 200; ++i) probes.push_back(d(rng));
    std::vector<std::size_t> wants;
    for (const K x : probes) {
        const auto want =
            static_cast<std::size_t>(std::upper_bound(keys.begin(), keys.end(), x) - keys.begin());
        ASSERT_EQ(tree.upper_bound(x), want) << "n=" << n << " x=" << x;
        wants.push_back(want);
    }
    // The batch search, over the same probes in batches of every size up to 64.
    std::vector<std::size_t> got(probes.size(), 12345);
    for (std::size_t at = 0, size = 1; at < probes.size(); at += size, size = size % 64 + 1) {
        const std::size_t m = std::min(size, probes.size() - at);
        tree.upper_bound_batch(std::span(probes).subspan(at, m), std::span(got).subspan(at, m));
    }
    for (std::size_t i = 0; i < probes.size(); ++i)
        ASSERT_EQ(got[i], wants[i]) << "batch: n=" << n << " x=" << probes[i];
}

TEST(SearchTree, MatchesUpperBound64) {
    std::mt19937_64 rng(7);
    for (std::size_t n : {0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 511, 512, 513, 4097, 40000})
        for (std::uint64_t spread : {std::uint64_t{5}, std::uint64_t{1000}, ~std::uint64_t{0}})
            check_against_upper_bound<std::uint64_t>(rng, n, spread);
}

TEST(SearchTree, MatchesUpperBound32) {
    std::mt19937_64 rng(8);
    for (std::size_t n : {1, 15, 16, 17, 255, 256, 257, 4097, 70000})
        for (std::uint32_t spread : {3u, 100000u, ~0u})
            check_against_upper_bound<std::uint32_t>(rng, n, spread);
}

TEST(SearchTree, EmptyAndLevels) {
    const SearchTree<std::uint64_t> empty;
    EXPECT_EQ(empty.upper_bound(5), 0u);
    std::size_t out = 9;
    const std::uint64_t x = 5;
    empty.upper_bound_batch(std::span(&x, 1), std::span(&out, 1));
    EXPECT_EQ(out, 0u);
    std::vector<std::uint64_t> keys(8 * 8 * 8 + 1);
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = i * 10;
    const SearchTree<std::uint64_t> t(keys);
    EXPECT_EQ(t.depth(), 4u);  // 65 leaves, 9, 2, 1
    EXPECT_EQ(t.memory_bytes(), (65 + 9 + 2 + 1) * 64u);
}

}  // namespace
}  // namespace signpost::common
