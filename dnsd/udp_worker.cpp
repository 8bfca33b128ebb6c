#include "dnsd/udp_worker.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/log.hpp"
#include "dnsd/query.hpp"
#include "dnsd/responder.hpp"

namespace signpost::dnsd {

namespace {
// Datagrams per recvmmsg: enough to amortise the syscall, small enough that a
// batch is answered within microseconds.
constexpr unsigned kBatch = 64;
// A query larger than this is not a query we answer (the largest sane one,
// with a 255-octet name, OPT, ECS and a cookie, is under 400 octets); reading
// into a bigger buffer lets us see and refuse oversize input rather than
// parse a silently truncated datagram.
constexpr std::size_t kInSize = 4096;
constexpr std::size_t kOutSize = 4096;  // edns_payload is capped at 4096 by the config

struct Slots {
    std::uint8_t in[kBatch][kInSize];
    std::uint8_t out[kBatch][kOutSize];
    sockaddr_storage peer[kBatch];
    iovec in_iov[kBatch];
    iovec out_iov[kBatch];
    mmsghdr in_msg[kBatch];
    mmsghdr out_msg[kBatch];
    Query query;
};

void serve_batch(int fd, Slots& s, common::Snapshot<ServingState>& state, WorkerStats& stats) {
    for (unsigned i = 0; i < kBatch; ++i) {
        s.in_iov[i] = {s.in[i], kInSize};
        std::memset(&s.in_msg[i].msg_hdr, 0, sizeof(msghdr));
        s.in_msg[i].msg_hdr.msg_name = &s.peer[i];
        s.in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        s.in_msg[i].msg_hdr.msg_iov = &s.in_iov[i];
        s.in_msg[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd, s.in_msg, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const auto snap = state.load();  // once per batch, not per packet
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
        bump(stats.udp_queries);
        const std::size_t len = s.in_msg[i].msg_len;
        const bool oversize = (s.in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        const ParseStatus st = oversize ? ParseStatus::kFormErr
                                        : parse_query(std::span(s.in[i], len), s.query);
        if (oversize) s.query = Query{};
        const auto src = common::IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&s.peer[i]));
        const std::size_t rlen = respond(s.query, st, snap->zones, src ? *src : common::IpAddress{},
                                         false, snap->options, s.out[out], kOutSize, stats);
        if (rlen == 0) continue;
        s.out_iov[out] = {s.out[out], rlen};
        std::memset(&s.out_msg[out].msg_hdr, 0, sizeof(msghdr));
        s.out_msg[out].msg_hdr.msg_name = &s.peer[i];
        s.out_msg[out].msg_hdr.msg_namelen = s.in_msg[i].msg_hdr.msg_namelen;
        s.out_msg[out].msg_hdr.msg_iov = &s.out_iov[out];
        s.out_msg[out].msg_hdr.msg_iovlen = 1;
        ++out;
    }
    for (unsigned sent = 0; sent < out;) {
        const int r = ::sendmmsg(fd, s.out_msg + sent, out - sent, MSG_DONTWAIT);
        if (r > 0) {
            sent += static_cast<unsigned>(r);
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        // EAGAIN (send buffer full) or an ICMP error for one peer: skip that
        // datagram rather than stall the worker; UDP clients retry.
        ++sent;
    }
}
}  // namespace

void run_udp_worker(const std::vector<int>& fds, common::Snapshot<ServingState>& state,
                    WorkerStats& stats, int stop_fd) {
    auto slots = std::make_unique<Slots>();
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    for (int fd : fds) {
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    ev.data.fd = stop_fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev);
    epoll_event events[16];
    for (;;) {
        const int n = ::epoll_wait(ep, events, 16, -1);
        if (n < 0 && errno != EINTR) {
            SP_LOG_ERROR("udp worker epoll_wait: %s", std::strerror(errno));
            break;
        }
        bool stop = false;
        for (int i = 0; i < n; ++i) {
            if (events[i].data.fd == stop_fd) {
                stop = true;
                continue;
            }
            serve_batch(events[i].data.fd, *slots, state, stats);
        }
        if (stop) break;
    }
    ::close(ep);
}

}  // namespace signpost::dnsd
