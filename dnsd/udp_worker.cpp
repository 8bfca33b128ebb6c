#include "dnsd/udp_worker.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/log.hpp"
#include "dnsd/batch.hpp"

namespace signpost::dnsd {

namespace {

struct Slots {
    Batch batch;
    sockaddr_storage peer[Batch::kSize];
    iovec in_iov[Batch::kSize];
    iovec out_iov[Batch::kSize];
    mmsghdr in_msg[Batch::kSize];
    mmsghdr out_msg[Batch::kSize];
};

void init_slots(Slots& s) {
    for (unsigned i = 0; i < Batch::kSize; ++i) {
        s.in_iov[i] = {s.batch.in[i], Batch::kInSize};
        std::memset(&s.in_msg[i], 0, sizeof(mmsghdr));
        s.in_msg[i].msg_hdr.msg_name = &s.peer[i];
        s.in_msg[i].msg_hdr.msg_iov = &s.in_iov[i];
        s.in_msg[i].msg_hdr.msg_iovlen = 1;
        std::memset(&s.out_msg[i], 0, sizeof(mmsghdr));
        s.out_msg[i].msg_hdr.msg_iov = &s.out_iov[i];
        s.out_msg[i].msg_hdr.msg_iovlen = 1;
    }
}

// Returns false when the socket is unusable.
bool serve_batch(int fd, Slots& s, BatchAnswerer& answerer, common::Snapshot<ServingState>& state,
                 common::Snapshot<HealthState>& health, WorkerStats& stats) {
    for (unsigned i = 0; i < Batch::kSize; ++i) {
        s.in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        s.in_msg[i].msg_hdr.msg_flags = 0;
    }
    const int n = ::recvmmsg(fd, s.in_msg, Batch::kSize, MSG_WAITFORONE, nullptr);
    if (n <= 0) return n == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    Batch& b = s.batch;
    for (int i = 0; i < n; ++i) {
        b.in_len[i] = s.in_msg[i].msg_len;
        b.oversize[i] = (s.in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        const auto src = common::IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&s.peer[i]));
        b.source[i] = src ? *src : common::IpAddress{};
    }
    const auto snap = state.load();  // once per batch, not per packet
    answerer.answer(b, static_cast<unsigned>(n), *snap, health.load());
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
        if (b.out_len[i] == 0) continue;
        s.out_iov[out] = {b.out[i], b.out_len[i]};
        s.out_msg[out].msg_hdr.msg_name = &s.peer[i];
        s.out_msg[out].msg_hdr.msg_namelen = s.in_msg[i].msg_hdr.msg_namelen;
        ++out;
    }
    bump(stats.udp_queries, static_cast<std::uint64_t>(n));
    for (unsigned sent = 0; sent < out;) {
        const int r = ::sendmmsg(fd, s.out_msg + sent, out - sent, 0);
        if (r > 0) {
            sent += static_cast<unsigned>(r);
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        // An error for one peer (e.g. ICMP unreachable reported late): skip that
        // datagram rather than stall the worker; UDP clients retry.
        ++sent;
    }
    return true;
}
}  // namespace

void run_udp_worker(int fd, common::Snapshot<ServingState>& state,
                    common::Snapshot<HealthState>& health, WorkerStats& stats,
                    const std::atomic<bool>& stop) {
    auto slots = std::make_unique<Slots>();
    init_slots(*slots);
    BatchAnswerer answerer(stats);
    // Blocking socket with a receive timeout: recvmmsg sleeps in the kernel
    // until a datagram arrives, and wakes now and then to check `stop`.
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{0, kUdpStopCheckMs * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!stop.load(std::memory_order_relaxed)) {
        if (!serve_batch(fd, *slots, answerer, state, health, stats)) {
            SP_LOG_ERROR("udp worker: recvmmsg: %s", std::strerror(errno));
            break;
        }
    }
}

}  // namespace signpost::dnsd
