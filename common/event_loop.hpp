#pragma once
// The event loop and the buffered output every socket server here is built
// on (dnsd's TCP server and control socket, geoipd's server): one epoll set
// whose fds each carry their handler, and an output queue that sends what the
// socket takes, keeps the rest, and can pass a file descriptor with a byte
// (SCM_RIGHTS, for geoipd's tables).

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace signpost::common {

class EventLoop {
  public:
    using Handler = std::function<void(std::uint32_t events)>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Watches `fd` for `events` (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLEXCLUSIVE,
    // ...), calling `on_ready` with what is ready. False if epoll refuses.
    bool add(int fd, std::uint32_t events, Handler on_ready);
    // What `fd` is watched for from now on (no system call when unchanged).
    void watch(int fd, std::uint32_t events);
    // Stops watching `fd` (the caller closes it). Safe from its own handler:
    // readiness already returned for it in this round is not dispatched.
    void remove(int fd);
    bool watching(int fd) const { return entries_.count(fd) > 0; }

    // Dispatches until stop(); calls `on_tick` after each round and at least
    // every `tick_ms` (-1: only when something was ready).
    void run(int tick_ms = -1, const std::function<void()>& on_tick = {});
    void stop() { running_ = false; }

  private:
    struct Entry {
        std::uint32_t events;
        std::uint64_t id;  // tells a reused fd number from the one that was ready
        std::shared_ptr<Handler> handler;
    };
    int ep_ = -1;
    bool running_ = false;
    std::uint64_t next_id_ = 1;
    std::unordered_map<int, Entry> entries_;
};

// Bytes waiting to be sent on one connection. Append with buffer() (the
// queue's own string: append to it in place) or append(); flush() sends.
class OutBuffer {
  public:
    std::string& buffer() { return buf_; }
    void append(std::string_view s) { buf_.append(s); }
    void append(const void* p, std::size_t n) { buf_.append(static_cast<const char*>(p), n); }
    std::size_t pending() const { return buf_.size() - pos_; }
    bool empty() const { return pending() == 0; }

    // Passes `fd` with the byte at offset `at` of buffer() (at or after what
    // is still unsent); `keep` holds whatever keeps `fd` open until then.
    void pass_fd(std::size_t at, int fd, std::shared_ptr<const void> keep);

    // Sends what the socket takes. False: the connection is broken.
    bool flush(int sock);

  private:
    struct FdMark {
        std::uint64_t at;  // absolute stream offset
        int fd;
        std::shared_ptr<const void> keep;
    };
    std::string buf_;
    std::size_t pos_ = 0;     // sent bytes at the front of buf_
    std::uint64_t base_ = 0;  // stream offset of buf_[0]
    std::deque<FdMark> marks_;
};

}  // namespace signpost::common
