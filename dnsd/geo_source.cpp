#include "dnsd/geo_source.hpp"

#include <algorithm>
#include <cstring>

#include "common/log.hpp"

namespace signpost::dnsd {

std::size_t GeoSource::KeyHash::operator()(const Key& k) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, k.bytes.data(), 8);
    std::memcpy(&b, k.bytes.data() + 8, 8);
    std::uint64_t h = a * 0x9e3779b97f4a7c15ULL ^ (b + k.len + (k.v4 ? 1000 : 0)) * 0xc2b2ae3d27d4eb4fULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
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
        index_.clear();
        len_v4_.fill(0);
        len_v6_.fill(0);
        failures_ = 0;
        open_until_ = {};
    }
    if (entries_.capacity() < c.cache_size) entries_.reserve(c.cache_size);
}

const common::GeoAnswer* GeoSource::find(const common::IpAddress& a) {
    const bool v4 = a.is_v4();
    const int top = v4 ? 32 : 128;
    const auto now = Clock::now();
    for (int len = top; len >= 0; --len) {
        if ((v4 ? len_v4_[static_cast<std::size_t>(len)] : len_v6_[static_cast<std::size_t>(len)]) == 0) continue;
        auto it = index_.find(key_of(common::Prefix(a, static_cast<unsigned>(len))));
        if (it == index_.end()) continue;
        Entry& e = entries_[it->second];
        if (now - e.stored > std::chrono::seconds(config_.cache_max_age_s)) return nullptr;
        e.referenced = true;
        return &e.answer;
    }
    return nullptr;
}

void GeoSource::insert(const common::GeoAnswer& a) {
    if (a.generation > generation_) {
        // geoipd loaded new databases: what we cached may have changed.
        if (generation_ != 0) {
            index_.clear();
            entries_.clear();
            len_v4_.fill(0);
            len_v6_.fill(0);
            hand_ = 0;
        }
        generation_ = a.generation;
    }
    const Key k = key_of(a.prefix);
    if (index_.count(k)) return;
    std::size_t slot;
    if (entries_.size() < config_.cache_size) {
        slot = entries_.size();
        entries_.emplace_back();
    } else {
        // CLOCK: skip (and clear) recently used entries; evict the first unused.
        for (;;) {
            hand_ = (hand_ + 1) % entries_.size();
            if (!entries_[hand_].referenced) break;
            entries_[hand_].referenced = false;
        }
        slot = hand_;
        Entry& old = entries_[slot];
        index_.erase(old.key);
        (old.key.v4 ? len_v4_[old.key.len] : len_v6_[old.key.len])--;
    }
    Entry& e = entries_[slot];
    e.key = k;
    e.answer = a;
    e.stored = Clock::now();
    e.referenced = false;
    e.used = true;
    index_[k] = slot;
    (k.v4 ? len_v4_[k.len] : len_v6_[k.len])++;
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
    if (!client_) return;
    misses_.clear();
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
    const auto err = client_->lookup_many(misses_, results_, std::chrono::milliseconds(config_.timeout_ms));
    for (const auto& r : results_)
        if (r.ok) insert(r.answer);
    if (!err.empty()) {
        failure();
        return;
    }
    failures_ = 0;
}

}  // namespace signpost::dnsd
