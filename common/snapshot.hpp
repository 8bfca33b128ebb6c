#pragma once
// An immutable value published to many readers with one pointer swap. Readers
// take a reference (load) and keep the old value alive as long as they use it;
// the writer builds the next value aside and publishes it. The last reader of
// an old value frees it: that is how an MMDB_s is closed after a reload.

#include <atomic>
#include <memory>

namespace signpost::common {

template <class T>
class Snapshot {
  public:
    Snapshot() = default;
    explicit Snapshot(std::shared_ptr<const T> initial) : ptr_(std::move(initial)) {}

    std::shared_ptr<const T> load() const { return ptr_.load(std::memory_order_acquire); }
    void publish(std::shared_ptr<const T> next) {
        ptr_.store(std::move(next), std::memory_order_release);
    }

  private:
    std::atomic<std::shared_ptr<const T>> ptr_;
};

}  // namespace signpost::common
