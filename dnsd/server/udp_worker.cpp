#include "dnsd/server/udp_worker.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/log.hpp"
#include "dnsd/server/batch.hpp"
#include "dnsd/server/sockets.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {

// Room for one IP_PKTINFO or IPV6_PKTINFO control message.
constexpr std::size_t kControlSize = CMSG_SPACE(sizeof(in6_pktinfo));
static_assert(sizeof(in6_pktinfo) >= sizeof(in_pktinfo));

struct Slots {
    Batch batch;
    sockaddr_storage peer[Batch::kSize];
    iovec in_iov[Batch::kSize];
    iovec out_iov[Batch::kSize];
    mmsghdr in_msg[Batch::kSize];
    mmsghdr out_msg[Batch::kSize];
    // Wildcard sockets only: each query's destination, and the answer's source.
    bool pktinfo = false;
    alignas(cmsghdr) unsigned char in_control[Batch::kSize][kControlSize];
    alignas(cmsghdr) unsigned char out_control[Batch::kSize][kControlSize];
};

// Makes `data` the one control message of `out`, in `control`.
template <class T>
void put_control(msghdr& out, unsigned char* control, int level, int type, const T& data) {
    out.msg_control = control;
    out.msg_controllen = CMSG_SPACE(sizeof data);
    cmsghdr* o = CMSG_FIRSTHDR(&out);
    o->cmsg_level = level;
    o->cmsg_type = type;
    o->cmsg_len = CMSG_LEN(sizeof data);
    std::memcpy(CMSG_DATA(o), &data, sizeof data);
}

// Sets the answer's source to the query's destination (the control message
// the kernel gave with the query), or no source when there is none.
void answer_from_destination(msghdr& in, msghdr& out, unsigned char* control) {
    out.msg_control = nullptr;
    out.msg_controllen = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&in); c; c = CMSG_NXTHDR(&in, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
            c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
            in_pktinfo got;
            std::memcpy(&got, CMSG_DATA(c), sizeof got);
            in_pktinfo send{};
            send.ipi_spec_dst = got.ipi_spec_dst;  // the local address the query reached
            // ipi_ifindex 0: the route chooses the interface, as for any answer.
            return put_control(out, control, IPPROTO_IP, IP_PKTINFO, send);
        }
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
            c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
            in6_pktinfo send;
            std::memcpy(&send, CMSG_DATA(c), sizeof send);
            // A link-local address means something only on its interface.
            if (!IN6_IS_ADDR_LINKLOCAL(&send.ipi6_addr)) send.ipi6_ifindex = 0;
            return put_control(out, control, IPPROTO_IPV6, IPV6_PKTINFO, send);
        }
    }
}

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
        if (s.pktinfo) {
            s.in_msg[i].msg_hdr.msg_control = s.in_control[i];
            s.in_msg[i].msg_hdr.msg_controllen = kControlSize;
        }
    }
    const int n = ::recvmmsg(fd, s.in_msg, Batch::kSize, MSG_WAITFORONE, nullptr);
    if (n <= 0) return n == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    Batch& b = s.batch;
    for (int i = 0; i < n; ++i) {
        b.in_len[i] = s.in_msg[i].msg_len;
        b.oversize[i] = (s.in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        // In place, not through from_sockaddr's optional and copies.
        if (!b.source[i].assign_sockaddr(reinterpret_cast<const sockaddr*>(&s.peer[i])))
            b.source[i] = common::IpAddress{};
    }
    const auto snap = state.load();  // once per batch, not per packet
    answerer.answer(b, static_cast<unsigned>(n), snap, health.load());
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
        if (b.out_len[i] == 0) continue;
        s.out_iov[out] = {b.out[i], b.out_len[i]};
        s.out_msg[out].msg_hdr.msg_name = &s.peer[i];
        s.out_msg[out].msg_hdr.msg_namelen = s.in_msg[i].msg_hdr.msg_namelen;
        if (s.pktinfo)
            answer_from_destination(s.in_msg[i].msg_hdr, s.out_msg[out].msg_hdr,
                                    s.out_control[out]);
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
    slots->pktinfo = is_wildcard(fd);
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

}  // namespace server
}  // namespace signpost::dnsd
