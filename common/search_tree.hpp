#pragma once
// A static search tree over sorted keys (an implicit B+ tree, one cache line
// per node): the upper bound of a key in a few dependent loads, where a
// binary search over a large array takes one cache miss per halving. Built
// once, read-only after; keys may repeat.
//
// The sorted keys, padded to whole nodes, are the leaves. Each level above
// holds, for every node of the level below, that node's first key, kFan to a
// node; the root is one node. A search walks from the root: in each node it
// counts the keys <= x (a search within the line, no branches on the data)
// and goes down to the last
// child whose first key is <= x; in the leaf, the count is the answer's
// offset. The levels above the leaves are 1/kFan of them and below, so all
// but the last one or two stay in cache under load.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace signpost::common {

template <class K>
class SearchTree {
  public:
    static constexpr std::size_t kFan = 64 / sizeof(K);
    struct alignas(64) Node {
        K key[kFan];
    };
    static_assert(sizeof(Node) == 64);

    SearchTree() = default;
    explicit SearchTree(std::span<const K> sorted) { build(sorted); }

    void build(std::span<const K> sorted) {
        n_ = sorted.size();
        levels_.clear();
        std::vector<Node> level((n_ + kFan - 1) / kFan);
        for (std::size_t i = 0; i < level.size() * kFan; ++i)
            level[i / kFan].key[i % kFan] = i < n_ ? sorted[i] : kMax;
        levels_.push_back(std::move(level));
        while (levels_.back().size() > 1) {
            const std::vector<Node>& below = levels_.back();
            std::vector<Node> up((below.size() + kFan - 1) / kFan);
            for (std::size_t i = 0; i < up.size() * kFan; ++i)
                up[i / kFan].key[i % kFan] = i < below.size() ? below[i].key[0] : kMax;
            levels_.push_back(std::move(up));
        }
    }

    std::size_t size() const { return n_; }
    // The levels from the leaves (0) up to the root.
    std::size_t depth() const { return levels_.size(); }
    std::size_t memory_bytes() const {
        std::size_t b = 0;
        for (const auto& l : levels_) b += l.size() * sizeof(Node);
        return b;
    }

    // How many keys are <= x: the index of the first key > x.
    std::size_t upper_bound(K x) const {
        if (n_ == 0) return 0;
        return in_leaf(node_at(x, 0), x);
    }

    // upper_bound() of every key of a batch, the searches advancing together
    // one level at a time: each key's node on the next level is prefetched
    // while the other keys' are found, so the batch's cache misses overlap
    // where one search alone would wait for each of its own in turn.
    void upper_bound_batch(std::span<const K> x, std::span<std::size_t> out) const {
        const std::size_t n = x.size();
        std::fill_n(out.begin(), n, 0);  // each key's node on the level being searched
        if (n_ == 0) return;
        for (std::size_t l = levels_.size() - 1; l > 0; --l) {
            for (std::size_t i = 0; i < n; ++i) {
                out[i] = child(l, out[i], x[i]);
                __builtin_prefetch(&levels_[l - 1][out[i]]);
            }
        }
        for (std::size_t i = 0; i < n; ++i) out[i] = in_leaf(out[i], x[i]);
    }

  private:
    static constexpr K kMax = std::numeric_limits<K>::max();

    // How many of a node's (sorted) keys are <= x: a binary search of
    // conditional moves (log2(kFan) + 1 steps, no branches on the data).
    static unsigned count_le(const Node& node, K x) {
        unsigned p = 0;
        for (unsigned step = kFan / 2; step > 0; step /= 2)
            p += node.key[p + step - 1] <= x ? step : 0;
        return p + (node.key[p] <= x ? 1 : 0);
    }

    // The node on level l - 1 a search for x goes down to from `node` on l.
    std::size_t child(std::size_t l, std::size_t node, K x) const {
        const unsigned c = count_le(levels_[l][node], x);
        // (Padding keys are kMax: only x == kMax counts them, so the child is
        // clamped to the ones that exist.)
        return std::min(node * kFan + (c ? c - 1 : 0), levels_[l - 1].size() - 1);
    }
    // The answer, from the leaf node the search reached.
    std::size_t in_leaf(std::size_t node, K x) const {
        return std::min(node * kFan + count_le(levels_[0][node], x), n_);
    }
    std::size_t node_at(K x, std::size_t level) const {
        std::size_t node = 0;
        for (std::size_t l = levels_.size() - 1; l > level; --l) node = child(l, node, x);
        return node;
    }

    std::size_t n_ = 0;
    std::vector<std::vector<Node>> levels_;  // [0]: the leaves
};

}  // namespace signpost::common
