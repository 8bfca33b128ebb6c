#pragma once
// Which cached IPv4 prefix covers an address, for a set of prefixes that never
// nest (geoipd's answers within one database generation partition the address
// space). Replaces an ordered map whose tree walk (a dozen cache misses per
// lookup) was a quarter of dnsd's CPU with a cold cache.
//
// Level 1 is a table of 65,536 cells, one per /16: empty, a prefix of /16 or
// shorter covering the whole /16 (written into each /16 cell it spans), or a
// small sorted vector of the longer prefixes inside that /16. A lookup is one
// cell read, plus a binary search over contiguous memory for long prefixes.
// Memory: 256 KiB, plus 12 bytes per prefix longer than /16.

#include <algorithm>
#include <cstdint>
#include <vector>

namespace signpost::dnsd {

class V4PrefixIndex {
  public:
    static constexpr std::uint32_t kNone = ~std::uint32_t{0};

    V4PrefixIndex() : cells_(1u << 16, 0) {}

    // The value stored for the prefix containing `addr`, or kNone.
    std::uint32_t find(std::uint32_t addr) const {
        const std::uint32_t c = cells_[addr >> 16];
        if (c == 0) return kNone;
        if (!(c & kBucketTag)) return c - 1;
        const auto& v = buckets_[c & ~kBucketTag];
        auto it = std::upper_bound(v.begin(), v.end(), addr,
                                   [](std::uint32_t a, const Item& i) { return a < i.start; });
        if (it == v.begin()) return kNone;
        --it;
        return contains(it->start, it->len, addr) ? it->value : kNone;
    }

    // The value stored for exactly this prefix, or kNone.
    std::uint32_t find_exact(std::uint32_t start, unsigned len) const {
        const std::uint32_t c = cells_[start >> 16];
        if (c == 0) return kNone;
        if (!(c & kBucketTag)) {
            // A short prefix: the cell says which value, not which prefix; the
            // caller checks the entry's own key.
            return len <= 16 ? c - 1 : kNone;
        }
        const auto& v = buckets_[c & ~kBucketTag];
        auto it = std::lower_bound(v.begin(), v.end(), start,
                                   [](const Item& i, std::uint32_t a) { return i.start < a; });
        return it != v.end() && it->start == start && it->len == len ? it->value : kNone;
    }

    // Stores `value` (< 2^31 - 1) for start/len (host bits clear). Whatever
    // overlapped it is dropped: prefixes in the index never nest.
    void insert(std::uint32_t start, unsigned len, std::uint32_t value) {
        const std::uint32_t first = start >> 16;
        if (len <= 16) {
            const std::uint32_t n = 1u << (16 - len);
            for (std::uint32_t i = first; i < first + n; ++i) {
                drop_cell(i);
                cells_[i] = value + 1;
            }
            return;
        }
        if (!(cells_[first] & kBucketTag)) {
            drop_cell(first);  // a short prefix here overlaps: dropped whole
            cells_[first] = kBucketTag | new_bucket();
        }
        std::uint32_t& c = cells_[first];
        auto& v = buckets_[c & ~kBucketTag];
        const std::uint32_t end = start + (std::uint32_t{1} << (32 - len)) - 1;
        // Drop overlapping items, then insert in order.
        auto lo = std::lower_bound(v.begin(), v.end(), start,
                                   [](const Item& i, std::uint32_t a) { return i.start < a; });
        if (lo != v.begin() && contains(std::prev(lo)->start, std::prev(lo)->len, start)) --lo;
        auto hi = lo;
        while (hi != v.end() && hi->start <= end) ++hi;
        lo = v.erase(lo, hi);
        v.insert(lo, Item{start, static_cast<std::uint8_t>(len), value});
    }

    // Removes start/len if it still holds `value` (a newer entry may own it).
    void erase(std::uint32_t start, unsigned len, std::uint32_t value) {
        const std::uint32_t first = start >> 16;
        if (len <= 16) {
            const std::uint32_t n = 1u << (16 - len);
            for (std::uint32_t i = first; i < first + n; ++i)
                if (cells_[i] == value + 1) cells_[i] = 0;
            return;
        }
        std::uint32_t& c = cells_[first];
        if (!(c & kBucketTag)) return;
        auto& v = buckets_[c & ~kBucketTag];
        auto it = std::lower_bound(v.begin(), v.end(), start,
                                   [](const Item& i, std::uint32_t a) { return i.start < a; });
        if (it == v.end() || it->start != start || it->len != len || it->value != value) return;
        v.erase(it);
        if (v.empty()) drop_bucket(first);
    }

    // Starts loading what find(addr) reads first (a hint; changes nothing).
    void prefetch(std::uint32_t addr) const { __builtin_prefetch(&cells_[addr >> 16]); }
    void clear() {
        std::fill(cells_.begin(), cells_.end(), 0);
        buckets_.clear();
        free_.clear();
    }

  private:
    static constexpr std::uint32_t kBucketTag = 1u << 31;
    struct Item {
        std::uint32_t start;
        std::uint8_t len;
        std::uint32_t value;
    };
    static bool contains(std::uint32_t start, unsigned len, std::uint32_t addr) {
        return len == 0 || ((addr ^ start) >> (32 - len)) == 0;
    }
    std::uint32_t new_bucket() {
        if (!free_.empty()) {
            const std::uint32_t b = free_.back();
            free_.pop_back();
            return b;
        }
        buckets_.emplace_back();
        return static_cast<std::uint32_t>(buckets_.size() - 1);
    }
    // Empties a cell: a bucket is freed; a short prefix is removed from every
    // /16 it spans (the run of cells with its value around this one).
    void drop_cell(std::uint32_t cell) {
        const std::uint32_t c = cells_[cell];
        if (c == 0) return;
        if (c & kBucketTag) return drop_bucket(cell);
        for (std::uint32_t i = cell; i < cells_.size() && cells_[i] == c; ++i) cells_[i] = 0;
        for (std::uint32_t i = cell; i-- > 0 && cells_[i] == c;) cells_[i] = 0;
    }
    void drop_bucket(std::uint32_t cell) {
        std::uint32_t& c = cells_[cell];
        if (!(c & kBucketTag)) return;
        auto& v = buckets_[c & ~kBucketTag];
        v.clear();
        v.shrink_to_fit();
        free_.push_back(c & ~kBucketTag);
        c = 0;
    }

    std::vector<std::uint32_t> cells_;  // 0: empty; value + 1; or kBucketTag | bucket
    std::vector<std::vector<Item>> buckets_;
    std::vector<std::uint32_t> free_;
};

}  // namespace signpost::dnsd
