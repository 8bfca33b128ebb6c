#include "dnsd/geo_source.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "common/hash.hpp"
#include "common/log.hpp"

namespace signpost::dnsd {

std::uint32_t GeoSource::v4_key(const common::IpAddress& a) {
    const std::uint8_t* b = a.bytes();
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           b[3];
}

GeoSource::V6Key GeoSource::v6_key(const common::IpAddress& a) {
    std::uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; ++i) hi = (hi << 8) | a.bytes()[i];
    for (int i = 8; i < 16; ++i) lo = (lo << 8) | a.bytes()[i];
    return {hi, lo};
}

void GeoSource::erase_start(const Key& k, std::size_t slot) {
    const auto a = common::IpAddress::from_bytes(k.v4 ? common::Family::kV4 : common::Family::kV6,
                                                 k.bytes.data());
    // Only if it still maps to this slot (a newer entry may own the start now).
    if (k.v4) {
        starts_v4_.erase(v4_key(a), k.len, static_cast<std::uint32_t>(slot));
    } else {
        auto it = starts_v6_.find(v6_key(a));
        if (it != starts_v6_.end() && it->second == slot) starts_v6_.erase(it);
    }
}

GeoSource::Key GeoSource::key_of(const common::Prefix& p) {
    Key k{};
    std::memcpy(k.bytes.data(), p.address().bytes(), p.address().byte_len());
    k.len = static_cast<std::uint8_t>(p.length());
    k.v4 = p.address().is_v4();
    return k;
}

void GeoSource::configure(const GeoipConfig& c) {
    const bool changed = c.socket != config_.socket;
    config_ = c;
    if (changed) {
        client_ = c.socket.empty() ? nullptr : std::make_unique<common::GeoClient>(c.socket);
        entries_.clear();
        starts_v4_.clear();
        starts_v6_.clear();
        index_.clear();
        exact_v6_.clear();
        failures_ = 0;
        open_until_ = {};
    }
    if (entries_.capacity() < c.cache_size) entries_.reserve(c.cache_size);
    std::size_t cap = 1024;
    while (cap < 4u * c.cache_size) cap *= 2;
    index_.reset(cap);
}

void GeoSource::FlatIndex::reset(std::size_t max_cells_pow2) {
    max_cells_ = std::max(max_cells_pow2, kMinCells);
    if (cells_.empty() || cells_.size() > max_cells_) {
        cells_.assign(std::min(kMinCells, max_cells_), Cell{});
        mask_ = cells_.size() - 1;
        size_ = 0;
    }
}

void GeoSource::FlatIndex::resize(std::size_t cells) {
    std::vector<Cell> old(cells, Cell{});
    old.swap(cells_);
    mask_ = cells - 1;
    size_ = 0;
    for (const Cell& c : old)
        if (c.key != kEmpty) put(c.key, c.b);
}

void GeoSource::FlatIndex::clear() {
    if (size_ == 0) return;
    std::fill(cells_.begin(), cells_.end(), Cell{});
    size_ = 0;
}

const GeoSource::Bucket* GeoSource::FlatIndex::find(std::uint64_t key) const {
    if (cells_.empty()) return nullptr;
    for (std::size_t i = common::mix64(key) & mask_;; i = (i + 1) & mask_) {
        const Cell& c = cells_[i];
        if (c.key == key) return &c.b;
        if (c.key == kEmpty) return nullptr;
    }
}

void GeoSource::FlatIndex::put(std::uint64_t key, Bucket b) {
    if (cells_.empty()) return;
    if (full()) {
        if (cells_.size() < max_cells_) {
            resize(cells_.size() * 2);
        } else {
            clear();  // bounded: rebuilt from hits
        }
    }
    for (std::size_t i = common::mix64(key) & mask_;; i = (i + 1) & mask_) {
        Cell& c = cells_[i];
        if (c.key == key) {
            c.b = b;
            return;
        }
        if (c.key == kEmpty) {
            c = {key, b};
            ++size_;
            return;
        }
    }
}

void GeoSource::FlatIndex::erase(std::uint64_t key) {
    if (cells_.empty()) return;
    std::size_t i = common::mix64(key) & mask_;
    while (cells_[i].key != key) {
        if (cells_[i].key == kEmpty) return;
        i = (i + 1) & mask_;
    }
    // Backward-shift deletion: move later cells of the run into the hole
    // when their home slot allows it, so lookups never need tombstones.
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
        if (cells_[j].key == kEmpty) break;
        const std::size_t home = common::mix64(cells_[j].key) & mask_;
        // Move j to i if home is not in (i, j] cyclically.
        const bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            cells_[i] = cells_[j];
            i = j;
        }
    }
    cells_[i] = Cell{};
    --size_;
}

std::uint64_t GeoSource::bucket_of(const common::IpAddress& a) {
    const std::uint8_t* b = a.bytes();
    if (a.is_v4())
        return (std::uint64_t{1} << 63) | (std::uint64_t{b[0]} << 16) | (b[1] << 8) | b[2];
    std::uint64_t k = 0;
    for (int i = 0; i < 6; ++i) k = (k << 8) | b[i];
    return k;  // 48 bits: never collides with the tagged IPv4 keys
}

const common::GeoAnswer* GeoSource::find(const common::IpAddress& a) {
    const auto now = now_;  // the batch's clock: one clock read per batch, not per query
    const std::uint64_t bk = bucket_of(a);
    if (const Bucket* b = index_.find(bk)) {
        Entry& e = entries_[b->slot];
        if (e.used && e.version == b->version &&
            now - e.stored <= std::chrono::seconds(config_.cache_max_age_s)) {
            e.referenced = true;
            e.batch = batch_;
            return &e.answer;
        }
        index_.erase(bk);
    }
    auto valid = [&](const Bucket& b) {
        const Entry& e = entries_[b.slot];
        return e.used && e.version == b.version &&
               now - e.stored <= std::chrono::seconds(config_.cache_max_age_s);
    };
    if (a.is_v4()) {
        if (const Bucket* b = index_.find(kExactV4Tag | v4_key(a)); b && valid(*b)) {
            entries_[b->slot].referenced = true;
            entries_[b->slot].batch = batch_;
            return &entries_[b->slot].answer;
        }
    } else if (auto it = exact_v6_.find(v6_key(a)); it != exact_v6_.end() && valid(it->second)) {
        entries_[it->second.slot].referenced = true;
        entries_[it->second.slot].batch = batch_;
        return &entries_[it->second.slot].answer;
    }
    std::size_t slot = 0;
    const common::GeoAnswer* g = find_slow(a, slot);
    if (g) remember(a, slot);
    return g;
}

void GeoSource::remember(const common::IpAddress& a, std::size_t slot) {
    // The bucket if the entry covers all of it, else the exact address.
    const Bucket b{static_cast<std::uint32_t>(slot), entries_[slot].version};
    if (exact_v6_.size() >= 2u * config_.cache_size) exact_v6_.clear();  // bounded
    if (entries_[slot].answer.prefix.length() <= (a.is_v4() ? kBucketV4 : kBucketV6)) {
        index_.put(bucket_of(a), b);
    } else if (a.is_v4()) {
        index_.put(kExactV4Tag | v4_key(a), b);
    } else {
        exact_v6_[v6_key(a)] = b;
    }
}

const common::GeoAnswer* GeoSource::find_slow(const common::IpAddress& a, std::size_t& slot) {
    std::size_t found = SIZE_MAX;
    if (a.is_v4()) {
        const std::uint32_t v = starts_v4_.find(v4_key(a));
        if (v != V4PrefixIndex::kNone) found = v;
    } else {
        auto it = starts_v6_.upper_bound(v6_key(a));
        if (it != starts_v6_.begin()) found = std::prev(it)->second;
    }
    if (found == SIZE_MAX) return nullptr;
    Entry& e = entries_[found];
    if (!e.used || !e.answer.prefix.contains(a)) return nullptr;
    if (now_ - e.stored > std::chrono::seconds(config_.cache_max_age_s)) return nullptr;
    e.referenced = true;
    e.batch = batch_;
    slot = found;
    return &e.answer;
}

std::size_t GeoSource::insert(common::GeoAnswer&& a) {
    if (a.generation > generation_) {
        // geoipd loaded new databases: what we cached may have changed.
        if (generation_ != 0) {
            starts_v4_.clear();
            starts_v6_.clear();
            index_.clear();
            exact_v6_.clear();
            entries_.clear();
            hand_ = 0;
        }
        generation_ = a.generation;
    }
    const Key k = key_of(a.prefix);
    // Already cached (perhaps expired): refresh that slot in place.
    std::size_t existing = SIZE_MAX;
    if (k.v4) {
        const std::uint32_t v = starts_v4_.find_exact(v4_key(a.prefix.address()), k.len);
        if (v != V4PrefixIndex::kNone) existing = v;
    } else {
        if (auto it = starts_v6_.find(v6_key(a.prefix.address())); it != starts_v6_.end())
            existing = it->second;
    }
    if (existing != SIZE_MAX && entries_[existing].key == k) {
        entries_[existing].answer = std::move(a);
        entries_[existing].stored = now_;
        entries_[existing].batch = batch_;
        return existing;
    }
    std::size_t slot;
    if (entries_.size() < config_.cache_size) {
        slot = entries_.size();
        entries_.emplace_back();
    } else {
        // CLOCK: skip (and clear) recently used entries; evict the first unused.
        // Entries of the batch being answered are pinned: evicting one between
        // prefetch and answer would send its client to the fallback pool.
        // (Bounded: after two full turns, evict whatever is under the hand.)
        for (std::size_t steps = 0;; ++steps) {
            hand_ = (hand_ + 1) % entries_.size();
            Entry& c = entries_[hand_];
            if (steps > 2 * entries_.size()) break;
            if (c.batch == batch_) continue;
            if (!c.referenced) break;
            c.referenced = false;
        }
        slot = hand_;
        erase_start(entries_[slot].key, slot);
    }
    Entry& e = entries_[slot];
    ++e.version;  // bucket pointers to the slot's previous entry are now stale
    e.key = k;
    e.answer = std::move(a);
    e.stored = now_;
    e.referenced = false;
    e.batch = batch_;
    e.used = true;
    // A stale overlapping entry (from expiry) is replaced: starts are unique.
    if (k.v4) {
        starts_v4_.insert(v4_key(e.answer.prefix.address()), k.len,
                          static_cast<std::uint32_t>(slot));
    } else {
        starts_v6_[v6_key(e.answer.prefix.address())] = slot;
    }
    return slot;
}

void GeoSource::failure() {
    bump(stats_.geo_failures);
    if (++failures_ >= config_.breaker_failures) {
        // Open: no lookups for a while; answers come from the fallback pool.
        if (!circuit_open()) bump(stats_.geo_breaker_opened);
        open_until_ = Clock::now() + std::chrono::milliseconds(config_.breaker_open_ms);
        failures_ = 0;
        client_->close();
    }
}

void GeoSource::prefetch(std::span<const common::IpAddress> addresses) {
    now_ = Clock::now();
    if (!client_) return;
    ++batch_;
    misses_.clear();
    // Memory-level parallelism: a warm batch is 64 lookups in tables larger
    // than the CPU's caches, each a miss on its index slot and then on its
    // entry. Start all the index loads, then all the entry loads, before
    // using any, so the misses overlap instead of queueing one after another.
    // A new client's address misses the bucket, then is looked up exactly and
    // by covering prefix (find_slow): those loads start early too.
    auto prefetch_entry = [&](std::size_t slot) {
        if (slot >= entries_.size()) return;
        const auto* e = reinterpret_cast<const char*>(&entries_[slot]);
        for (std::size_t off = 0; off < sizeof(Entry); off += 64) __builtin_prefetch(e + off);
    };
    for (const auto& a : addresses) index_.prefetch(bucket_of(a));
    for (const auto& a : addresses) {
        if (const Bucket* b = index_.find(bucket_of(a))) {
            prefetch_entry(b->slot);
        } else if (a.is_v4()) {
            index_.prefetch(kExactV4Tag | v4_key(a));
            starts_v4_.prefetch(v4_key(a));
        }
    }
    for (const auto& a : addresses) {
        if (find(a)) {
            bump(stats_.geo_cache_hits);
            continue;
        }
        bump(stats_.geo_cache_misses);
        if (std::find(misses_.begin(), misses_.end(), a) == misses_.end()) misses_.push_back(a);
    }
    if (misses_.empty() || circuit_open()) return;
    // Half-open after the breaker's pause: this batch is the probe.
    bump(stats_.geo_lookups, misses_.size());
    const auto err =
        client_->lookup_many(misses_, results_, std::chrono::milliseconds(config_.timeout_ms));
    // Results come in request order. Index each asked address at once, so
    // answering this batch finds its entry in one probe.
    for (std::size_t i = 0; i < results_.size(); ++i)
        if (results_[i].ok && results_[i].answer.prefix.contains(misses_[i]))
            remember(misses_[i], insert(std::move(results_[i].answer)));
    if (!err.empty()) {
        failure();
        return;
    }
    failures_ = 0;
}

}  // namespace signpost::dnsd
