#pragma once
// An immutable value published to many readers with one pointer swap. Readers
// take a reference (load) and keep the old value alive as long as they use it;
// the writer builds the next value aside and publishes it. The last reader of
// an old value frees it: that is how an MMDB_s is closed after a reload.
//
// The pointer is guarded by a mutex, not std::atomic<std::shared_ptr>:
// libstdc++ 12's atomic shared_ptr releases its internal lock with relaxed
// order in load(), so a reader's copy is not ordered before the next
// writer's store by the memory model (harmless on x86, not promised on ARM),
// and ThreadSanitizer reports it. A mutex's lock/unlock are acquire/release
// by definition and TSan sees them. Readers load once per batch of packets or
// per readiness event, and the critical section is one reference-count
// increment, so the lock costs nothing measurable (see scripts/bench-dns).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace signpost::common {

template <class T>
class Snapshot {
  public:
    Snapshot() = default;
    explicit Snapshot(std::shared_ptr<const T> initial) : ptr_(std::move(initial)) {}
    Snapshot(const Snapshot&) = delete;
    Snapshot& operator=(const Snapshot&) = delete;

    std::shared_ptr<const T> load() const {
        std::lock_guard lock(mu_);
        return ptr_;
    }
    void publish(std::shared_ptr<const T> next) {
        {
            std::lock_guard lock(mu_);
            ptr_.swap(next);
            version_.fetch_add(1, std::memory_order_release);
        }
        // `next` now holds the old value: if this was its last reference it
        // is destroyed here, outside the lock, so readers never wait for a
        // table or database to be unmapped.
    }

    // Raised by every publish. A reader that keeps a loaded value across
    // requests reads this first and loads again only when it moved: read
    // before load(), a publish between the two is seen next time, never missed.
    std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  private:
    std::atomic<std::uint64_t> version_{0};
    mutable std::mutex mu_;
    std::shared_ptr<const T> ptr_;
};

}  // namespace signpost::common
