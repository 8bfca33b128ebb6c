#include "common/event_loop.hpp"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace signpost::common {

EventLoop::EventLoop() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {}

EventLoop::~EventLoop() {
    if (ep_ >= 0) ::close(ep_);
}

bool EventLoop::add(int fd, std::uint32_t events, Handler on_ready) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
    entries_[fd] = Entry{events, next_id_++, std::make_shared<Handler>(std::move(on_ready))};
    return true;
}

void EventLoop::watch(int fd, std::uint32_t events) {
    auto it = entries_.find(fd);
    if (it == entries_.end() || it->second.events == events) return;
    it->second.events = events;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::remove(int fd) {
    if (entries_.erase(fd) == 0) return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::run(int tick_ms, const std::function<void()>& on_tick) {
    running_ = true;
    constexpr int kMaxEvents = 64;
    epoll_event events[kMaxEvents];
    struct Ready {
        int fd;
        std::uint64_t id;
        std::uint32_t events;
    };
    std::vector<Ready> ready;
    while (running_) {
        const int n = ::epoll_wait(ep_, events, kMaxEvents, tick_ms);
        if (n < 0 && errno != EINTR) break;
        // Which entry each event is for, before any handler runs: a handler
        // may close an fd and accept another with the same number.
        ready.clear();
        for (int i = 0; i < n; ++i) {
            auto it = entries_.find(events[i].data.fd);
            if (it != entries_.end()) ready.push_back({it->first, it->second.id, events[i].events});
        }
        for (const auto& r : ready) {
            auto it = entries_.find(r.fd);
            if (it == entries_.end() || it->second.id != r.id) continue;
            const auto handler = it->second.handler;  // alive even if it removes itself
            (*handler)(r.events);
            if (!running_) break;
        }
        if (on_tick) on_tick();
    }
}

void OutBuffer::pass_fd(std::size_t at, int fd, std::shared_ptr<const void> keep) {
    marks_.push_back({base_ + at, fd, std::move(keep)});
}

namespace {
// Sends `len` bytes with `fd` attached to the first one: the reader gets the
// fd from the recvmsg that returns that byte.
ssize_t send_with_fd(int sock, const char* data, std::size_t len, int fd) {
    iovec iov{const_cast<char*>(data), len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return ::sendmsg(sock, &msg, MSG_NOSIGNAL);
}
}  // namespace

bool OutBuffer::flush(int sock) {
    while (pending() > 0) {
        // Bytes before the next mark go with send(); at a mark, sendmsg()
        // carries the fd with the bytes up to the mark after it (one fd per
        // call, so each arrives with its own byte).
        const std::uint64_t at = base_ + pos_;
        const bool at_mark = !marks_.empty() && marks_.front().at == at;
        std::size_t len = pending();
        for (const auto& m : marks_) {
            if (m.at > at) {
                len = std::min<std::size_t>(len, m.at - at);
                break;
            }
        }
        const char* data = buf_.data() + pos_;
        const ssize_t n = at_mark ? send_with_fd(sock, data, len, marks_.front().fd)
                                  : ::send(sock, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            pos_ += static_cast<std::size_t>(n);
            if (at_mark) marks_.pop_front();  // sent with the first byte, even if not all
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return false;
    }
    if (pending() == 0) {
        base_ += buf_.size();
        buf_.clear();
        pos_ = 0;
    } else if (pos_ > (1u << 16)) {
        base_ += pos_;
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    return true;
}

}  // namespace signpost::common
