#pragma once
// A worker's sample of the clients its redirect answers went to, for the top
// ASNs and countries (server/top_clients.hpp): a single-producer,
// single-consumer ring that the worker fills while it has room and the main
// thread drains once a second. A full ring costs the worker two loads per
// answer and nothing else; the drainer weighs each sample by the answers the
// worker gave in that second, so the estimate holds at any rate.

#include <array>
#include <atomic>
#include <cstdint>

#include "common/ip_address.hpp"

namespace signpost::dnsd {
inline namespace stats {

class ClientSamples {
  public:
    static constexpr std::uint32_t kCapacity = 4096;

    // Worker side.
    void push(const common::IpAddress& a) {
        const std::uint64_t h = head_.load(std::memory_order_relaxed);
        if (h - tail_.load(std::memory_order_acquire) >= kCapacity) return;
        ring_[h % kCapacity] = a;
        head_.store(h + 1, std::memory_order_release);
    }
    // Drainer side: calls f for every sample since the last drain; returns how many.
    template <class F>
    std::uint64_t drain(F&& f) {
        const std::uint64_t h = head_.load(std::memory_order_acquire);
        std::uint64_t t = tail_.load(std::memory_order_relaxed);
        const std::uint64_t n = h - t;
        for (; t != h; ++t) f(ring_[t % kCapacity]);
        tail_.store(t, std::memory_order_release);
        return n;
    }

  private:
    alignas(64) std::atomic<std::uint64_t> head_{0};
    alignas(64) std::atomic<std::uint64_t> tail_{0};
    std::array<common::IpAddress, kCapacity> ring_{};
};

}  // namespace stats
}  // namespace signpost::dnsd
