#pragma once
// Geo facts for one worker thread: a cache keyed by the network prefix geoipd
// answered with (never by the address: one answer serves the whole prefix),
// filled by pipelined lookups on the worker's own persistent connection under
// one hard deadline per batch, behind a circuit breaker so a dead or slow
// geoipd costs one timeout, not one per query. Owned by one thread: no locks.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/geo_answer.hpp"
#include "common/geo_client.hpp"
#include "common/hash.hpp"
#include "dnsd/edge.hpp"
#include "dnsd/stats.hpp"
#include "dnsd/v4_prefix_index.hpp"

namespace signpost::dnsd {

class GeoSource {
  public:
    using Clock = std::chrono::steady_clock;
    GeoSource(WorkerStats& stats) : stats_(stats) {}

    // Applies (possibly reloaded) settings; reconnects if the socket changed.
    void configure(const GeoipConfig& c);
    bool enabled() const { return !config_.socket.empty(); }

    // Makes sure every address has a cached answer if geoipd can give one
    // within the deadline: cache misses are looked up together, pipelined.
    void prefetch(std::span<const common::IpAddress> addresses);
    // The cached answer covering `a`, or nullptr (then: fallback). Ages are
    // judged by the clock of the last prefetch(): call it first in each batch.
    const common::GeoAnswer* find(const common::IpAddress& a);

    bool circuit_open() const { return Clock::now() < open_until_; }
    std::size_t cache_entries() const { return entries_.size(); }

  private:
    struct Key {
        std::array<std::uint8_t, 16> bytes;
        std::uint8_t len;
        bool v4;
        bool operator==(const Key&) const = default;
    };
    struct Entry {
        // What a hit checks and marks first, in the entry's first cache line.
        Clock::time_point stored;
        std::uint64_t batch = 0;    // last batch that used it: pinned until that batch is answered
        std::uint32_t version = 0;  // bumped when the slot is reused
        bool referenced = false;
        bool used = false;
        Key key;
        common::GeoAnswer answer;
    };
    // Fast path: the client's /24 (IPv4) or /48 (IPv6) bucket -> the entry
    // covering all of it. ECS subnets are /24 and /48, and geo prefixes are
    // mostly wider: one hash probe per hit instead of one per prefix length.
    struct Bucket {
        std::uint32_t slot;
        std::uint32_t version;
    };
    static std::uint64_t bucket_of(const common::IpAddress& a);
    static constexpr unsigned kBucketV4 = 24, kBucketV6 = 48;
    const common::GeoAnswer* find_slow(const common::IpAddress& a, std::size_t& slot);
    static Key key_of(const common::Prefix& p);
    std::size_t insert(common::GeoAnswer&& a);                    // -> its slot
    void remember(const common::IpAddress& a, std::size_t slot);  // fast-path index
    void failure();

    WorkerStats& stats_;
    GeoipConfig config_;
    std::unique_ptr<common::GeoClient> client_;
    std::vector<Entry> entries_;  // CLOCK eviction ring
    std::size_t hand_ = 0;
    std::uint64_t batch_ = 0;  // prefetch() starts a batch
    Clock::time_point now_{};  // read once per batch, in prefetch()
    // Cached prefixes by their first address. Answers of one geoipd generation
    // partition the address space (geoipd returns the whole leaf range, so two
    // prefixes never nest): the covering prefix is the greatest start <= the
    // address, one ordered lookup instead of a probe per prefix length.
    using V6Key = std::pair<std::uint64_t, std::uint64_t>;
    V4PrefixIndex starts_v4_;
    std::map<V6Key, std::size_t> starts_v6_;
    // Open addressing, linear probing, inline entries: one cache line per
    // probe where std::unordered_map chased a node pointer (it was the
    // largest userspace cost of a warm redirect answer). Holds the buckets and
    // the exact IPv4 addresses (tagged so they never collide).
    class FlatIndex {
      public:
        // Sets the largest size (a power of two). The table starts small and
        // doubles when half full, so a working set that fits the CPU's caches
        // is indexed by a table that fits them too; at the largest size a
        // full table is emptied instead (rebuilt from hits, like any cache).
        void reset(std::size_t max_cells_pow2);
        const Bucket* find(std::uint64_t key) const;
        // Starts loading the key's first probe slot (a hint; no effect on contents).
        void prefetch(std::uint64_t key) const {
            if (!cells_.empty()) __builtin_prefetch(&cells_[common::mix64(key) & mask_]);
        }
        void put(std::uint64_t key, Bucket b);
        void erase(std::uint64_t key);
        void clear();
        bool full() const { return size_ * 2 >= cells_.size(); }

      private:
        struct Cell {
            std::uint64_t key = kEmpty;
            Bucket b{};
        };
        static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
        static constexpr std::size_t kMinCells = 1024;
        void resize(std::size_t cells);
        std::vector<Cell> cells_;
        std::size_t mask_ = 0;
        std::size_t size_ = 0;
        std::size_t max_cells_ = 0;
    };
    FlatIndex index_;
    static constexpr std::uint64_t kExactV4Tag = std::uint64_t{1} << 62;
    // Second fast path for addresses whose prefix is longer than their bucket
    // (a split /24): keyed by the exact address, which repeats for ECS
    // subnets (a resolver always sends the same masked address). IPv4 ones
    // live in index_; IPv6 here.
    std::map<V6Key, Bucket> exact_v6_;
    static std::uint32_t v4_key(const common::IpAddress& a);
    static V6Key v6_key(const common::IpAddress& a);
    void erase_start(const Key& k, std::size_t slot);
    std::uint64_t generation_ = 0;  // geoipd's database generation last seen
    unsigned failures_ = 0;
    Clock::time_point open_until_{};
    std::vector<common::IpAddress> misses_;
    std::vector<common::GeoClient::Result> results_;
};

}  // namespace signpost::dnsd
