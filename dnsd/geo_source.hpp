#pragma once
// Geo facts for one worker thread: a cache keyed by the network prefix geoipd
// answered with (never by the address: one answer serves the whole prefix),
// filled by pipelined lookups on the worker's own persistent connection under
// one hard deadline per batch, behind a circuit breaker so a dead or slow
// geoipd costs one timeout, not one per query. Owned by one thread: no locks.

#include <chrono>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/geo_answer.hpp"
#include "common/geo_client.hpp"
#include "dnsd/edge.hpp"
#include "dnsd/stats.hpp"

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
    // The cached answer covering `a`, or nullptr (then: fallback).
    const common::GeoAnswer* find(const common::IpAddress& a);

    bool circuit_open() const { return Clock::now() < open_until_; }
    std::size_t cache_entries() const { return index_.size(); }

private:
    struct Key {
        std::array<std::uint8_t, 16> bytes;
        std::uint8_t len;
        bool v4;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept;
    };
    struct Entry {
        Key key;
        common::GeoAnswer answer;
        Clock::time_point stored;
        bool referenced = false;
        bool used = false;
    };
    static Key key_of(const common::Prefix& p);
    void insert(const common::GeoAnswer& a);
    void failure();

    WorkerStats& stats_;
    GeoipConfig config_;
    std::unique_ptr<common::GeoClient> client_;
    std::vector<Entry> entries_;  // CLOCK eviction ring
    std::size_t hand_ = 0;
    std::unordered_map<Key, std::size_t, KeyHash> index_;
    // How many cached prefixes have each length, per family: find() probes
    // only the lengths present, longest first.
    std::array<std::uint32_t, 33> len_v4_{};
    std::array<std::uint32_t, 129> len_v6_{};
    std::uint64_t generation_ = 0;  // geoipd's database generation last seen
    unsigned failures_ = 0;
    Clock::time_point open_until_{};
    std::vector<common::IpAddress> misses_;
    std::vector<common::GeoClient::Result> results_;
};

}  // namespace signpost::dnsd
