#pragma once
// NOTIFY (RFC 1996) to each zone's secondaries: when dnsd starts, and when a
// published state carries a zone with a new serial, every target of that zone
// gets a NOTIFY over UDP, re-sent with backoff (1 s, 2 s, 4 s, ... 60 s) until
// it answers, for at most kMaxTries. A newer serial replaces a pending one.
// Its own thread and sockets: nothing on the query path waits for it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dnsd/server/config.hpp"

namespace signpost::dnsd {
inline namespace server {

// A zone as the notifier sees it.
struct NotifyZone {
    std::string origin;  // lower-case wire
    std::uint32_t serial = 0;
    std::vector<ListenAddress> targets;
};

class Notifier {
  public:
    static constexpr int kMaxTries = 10;
    Notifier();
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;
    // NOTIFYs leave from `sources` (the listen addresses; a wildcard or none
    // of a family: the kernel's choice), so that a secondary sees them come
    // from the primary address it was told.
    bool start(const std::vector<ListenAddress>& sources, std::string& error);
    void stop();
    // The zones being served now: new zones and new serials are notified.
    void update(std::vector<NotifyZone> zones);

    std::uint64_t sent() const { return sent_; }
    std::uint64_t acked() const { return acked_; }
    std::uint64_t failed() const { return failed_; }
    void render(std::string& out) const;  // Prometheus text

  private:
    struct Pending {
        std::string origin;
        std::uint32_t serial;
        ListenAddress target;
        std::uint16_t id = 0;
        int tries = 0;
        std::chrono::steady_clock::time_point next;
    };
    void run();
    void send(Pending& p);
    void on_readable(int fd);
    std::mutex mu_;
    // By origin: the serial and targets last notified (a new target, or a
    // zone that went and came back, is notified again).
    std::map<std::string, std::string> notified_;
    std::vector<Pending> pending_;
    int fd4_ = -1, fd6_ = -1, wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::atomic<std::uint64_t> sent_{0}, acked_{0}, failed_{0};
    std::uint32_t next_id_ = 0;
};

}  // namespace server
}  // namespace signpost::dnsd
