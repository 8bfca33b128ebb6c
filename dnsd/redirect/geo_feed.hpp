#pragma once
// dnsd's subscription to geoipd's geo table. One thread keeps a connection
// to geoipd's socket open with a `subscribe` request; geoipd answers with the
// current table (a sealed memfd passed with SCM_RIGHTS) and pushes every new
// generation the same way. Each table is mapped read-only, validated, and
// handed on (the maps are compiled against it aside and published). A table
// that fails validation is refused with a log line and the old one stays.
// When geoipd goes away, dnsd keeps answering from the last table, says so
// once, and reconnects with backoff. Nothing here is on the query path.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/geo_table.hpp"

namespace signpost::dnsd {
inline namespace redirect {

class GeoFeed {
  public:
    using OnTable = std::function<void(std::shared_ptr<const common::GeoTable>)>;
    // socket_path: read before every connection attempt (a reload may change
    // it; call wake() after one). Empty: no geoipd configured.
    GeoFeed(std::function<std::string()> socket_path, OnTable on_table);
    ~GeoFeed();
    GeoFeed(const GeoFeed&) = delete;
    GeoFeed& operator=(const GeoFeed&) = delete;

    void start();
    void stop();
    // Until the first table has been handed on, or the first attempt to get
    // one failed, at most `limit`: dnsd starts answering with geo data when
    // geoipd is there, without waiting when it is not.
    void wait_first(std::chrono::milliseconds limit);
    void wake();  // the socket path may have changed

    bool connected() const { return connected_.load(std::memory_order_relaxed); }
    std::uint64_t tables_received() const { return received_.load(std::memory_order_relaxed); }
    std::uint64_t tables_refused() const { return refused_.load(std::memory_order_relaxed); }
    std::uint64_t disconnects() const { return disconnects_.load(std::memory_order_relaxed); }

    // How long the first table may take after `subscribe` before the
    // connection is given up as hung and retried.
    static constexpr std::chrono::milliseconds kFirstTableTimeout{5000};
    static constexpr std::chrono::milliseconds kMinBackoff{100};
    static constexpr std::chrono::milliseconds kMaxBackoff{5000};

  private:
    void run();
    // One connection, until it ends; true if it delivered at least one table.
    bool session(const std::string& path);
    void on_line(std::string_view line, int fd);
    bool wait_wake(std::chrono::milliseconds timeout);  // true: woken

    std::function<std::string()> socket_path_;
    OnTable on_table_;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> received_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> disconnects_{0};
    std::uint64_t last_generation_ = 0;
    std::uint64_t last_checksum_ = 0;
    bool have_table_ = false;
    bool got_table_this_session_ = false;
    bool answered_this_session_ = false;  // a table line arrived, accepted or not
    // An outage (a lost connection, or no table yet): when it began, so that
    // its end is logged with its length. Only the feed's thread uses these.
    bool in_outage_ = false;
    std::chrono::steady_clock::time_point outage_since_{};
    std::string session_path_;
    std::mutex first_mu_;
    std::condition_variable first_cv_;
    bool first_done_ = false;
    void first_attempt_done();
    std::thread thread_;
};

}  // namespace redirect
}  // namespace signpost::dnsd
