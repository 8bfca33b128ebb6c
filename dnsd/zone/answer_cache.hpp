#pragma once
// Answers to static names by the query's exact bytes (all but the ID), one
// cache per worker thread. A static answer is a function of the query's bytes
// and the serving snapshot alone: no source address, clock or health enters
// it (redirect answers, anything a DynamicAnswer wrote, are never stored), so
// equal bytes get equal answers. The owner empties the cache whenever the
// snapshot changes. A hit copies the stored answer, puts the query's ID in and
// counts exactly what the first answer counted, so metrics do not change.
// Two-way set-associative (the older way of a set is replaced) and bounded:
// kSets x kWays x (kMaxQuery + kMaxAnswer) octets, about 330 KiB.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string_view>
#include <vector>

#include "dnsd/stats/worker_stats.hpp"
#include "dnsd/zone/name_index.hpp"

namespace signpost::dnsd {
inline namespace zone {

class AnswerCache {
  public:
    static constexpr std::size_t kSets = 256;
    static constexpr std::size_t kWays = 2;
    static constexpr std::size_t kMaxQuery = 128;
    static constexpr std::size_t kMaxAnswer = 512;

    static constexpr std::size_t kCounters = std::size(kWorkerCounters);
    using Counts = std::uint64_t[kCounters];  // every counter's value
    static void read(const WorkerStats& s, Counts out) {
        for (std::size_t i = 0; i < kCounters; ++i)
            out[i] = (s.*kWorkerCounters[i]).load(std::memory_order_relaxed);
    }

    // On a hit writes the answer (with the query's ID) to `out` and counts it
    // as the first was counted; returns its length. 0: not cached.
    std::size_t find(const std::uint8_t* q, std::size_t len, std::uint8_t* out,
                     WorkerStats& stats) const {
        if (slots_.empty() || len < 2 || len - 2 > kMaxQuery) return 0;
        const std::uint64_t h = key_hash(q, len);
        const Slot* set = &slots_[(h % kSets) * kWays];
        const Slot* hit = nullptr;
        for (std::size_t w = 0; w < kWays && !hit; ++w)
            if (set[w].alen != 0 && set[w].hash == h && set[w].qlen == len - 2 &&
                std::memcmp(set[w].query, q + 2, len - 2) == 0)
                hit = &set[w];
        if (!hit) return 0;
        const Slot& s = *hit;
        std::memcpy(out, s.answer, s.alen);
        out[0] = q[0];
        out[1] = q[1];
        for (std::uint8_t i = 0; i < s.counted; ++i)
            bump(stats.*kWorkerCounters[s.index[i]], s.add[i]);
        bump(stats.answer_cache_hits);
        return s.alen;
    }

    // Stores the answer to `q` (sized `alen`) if it fits, given what the
    // counters were before it was answered (`before`) and are now.
    void store(const std::uint8_t* q, std::size_t len, const std::uint8_t* answer, std::size_t alen,
               const Counts before, const WorkerStats& stats) {
        if (len < 2 || len - 2 > kMaxQuery || alen == 0 || alen > kMaxAnswer) return;
        Slot next;
        for (std::size_t i = 0; i < kCounters; ++i) {
            const std::uint64_t d =
                (stats.*kWorkerCounters[i]).load(std::memory_order_relaxed) - before[i];
            if (d == 0) continue;
            if (next.counted == kMaxCounted || d > 255) return;  // not a plain answer: not kept
            next.index[next.counted] = static_cast<std::uint8_t>(i);
            next.add[next.counted++] = static_cast<std::uint8_t>(d);
        }
        if (slots_.empty()) slots_.resize(kSets * kWays);
        next.hash = key_hash(q, len);
        next.qlen = static_cast<std::uint16_t>(len - 2);
        next.alen = static_cast<std::uint16_t>(alen);
        std::memcpy(next.query, q + 2, len - 2);
        std::memcpy(next.answer, answer, alen);
        // Into an empty way, else over the older one (stamps order the stores).
        next.stamp = ++stamp_;
        Slot* set = &slots_[(next.hash % kSets) * kWays];
        Slot* victim = &set[0];
        for (std::size_t w = 0; w < kWays; ++w) {
            if (set[w].alen == 0) {
                victim = &set[w];
                break;
            }
            if (set[w].stamp < victim->stamp) victim = &set[w];
        }
        *victim = next;
    }

    void clear() {
        for (auto& s : slots_) s.alen = 0;
    }

  private:
    static constexpr std::uint8_t kMaxCounted = 8;
    static std::uint64_t key_hash(const std::uint8_t* q, std::size_t len) {
        return name_hash(std::string_view(reinterpret_cast<const char*>(q) + 2, len - 2));
    }
    struct Slot {
        std::uint64_t hash = 0;
        std::uint64_t stamp = 0;
        std::uint16_t qlen = 0;
        std::uint16_t alen = 0;  // 0: empty
        std::uint8_t counted = 0;
        std::uint8_t index[kMaxCounted] = {};
        std::uint8_t add[kMaxCounted] = {};
        std::uint8_t query[kMaxQuery];
        std::uint8_t answer[kMaxAnswer];
    };
    std::vector<Slot> slots_;  // allocated by the first store
    std::uint64_t stamp_ = 0;
};

}  // namespace zone
}  // namespace signpost::dnsd
