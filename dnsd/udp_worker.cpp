#include "dnsd/udp_worker.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/log.hpp"
#include "dnsd/geo_source.hpp"
#include "dnsd/health.hpp"
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
    Query query[kBatch];
    ParseStatus status[kBatch];
    common::IpAddress source[kBatch];
    std::vector<common::IpAddress> geo_keys;
};

// What a worker keeps across batches: its geoipd connection and cache.
struct WorkerEnv {
    explicit WorkerEnv(WorkerStats& stats) : geo(stats) {}
    GeoSource geo;
    QueryEnv env;
    HealthFor health;
    std::uint64_t generation = 0;
};

void init_slots(Slots& s) {
    for (unsigned i = 0; i < kBatch; ++i) {
        s.in_iov[i] = {s.in[i], kInSize};
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
bool serve_batch(int fd, Slots& s, WorkerEnv& we, common::Snapshot<ServingState>& state,
                 common::Snapshot<HealthState>& health, WorkerStats& stats) {
    for (unsigned i = 0; i < kBatch; ++i) {
        s.in_msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        s.in_msg[i].msg_hdr.msg_flags = 0;
    }
    const int n = ::recvmmsg(fd, s.in_msg, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) return n == 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    const auto snap = state.load();  // once per batch, not per packet
    const auto hs = health.load();
    we.env.health = we.health.get(hs, snap->edges);
    if (snap->generation != we.generation) {
        we.geo.configure(snap->edges->geoip);
        we.env.geo = we.geo.enabled() ? &we.geo : nullptr;
        we.generation = snap->generation;
    }
    // Pass 1: parse, and gather the addresses redirect answers will need, so
    // that cache misses go to geoipd together, under one deadline.
    s.geo_keys.clear();
    for (int i = 0; i < n; ++i) {
        const std::size_t len = s.in_msg[i].msg_len;
        const bool oversize = (s.in_msg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        s.status[i] =
            oversize ? ParseStatus::kFormErr : parse_query(std::span(s.in[i], len), s.query[i]);
        if (oversize) s.query[i] = Query{};
        const auto src = common::IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&s.peer[i]));
        s.source[i] = src ? *src : common::IpAddress{};
        if (we.env.geo && s.status[i] == ParseStatus::kOk) {
            common::IpAddress key;
            if (const auto* dyn = dynamic_target(s.query[i], snap->zones);
                dyn && dyn->geo_key(s.query[i], s.source[i], key))
                s.geo_keys.push_back(key);
        }
    }
    if (!s.geo_keys.empty()) we.geo.prefetch(s.geo_keys);
    // Pass 2: answer.
    unsigned out = 0;
    for (int i = 0; i < n; ++i) {
        const std::size_t rlen = respond(s.query[i], s.status[i], snap->zones, s.source[i], false,
                                         snap->options, s.out[out], kOutSize, stats, &we.env);
        if (rlen == 0) continue;
        s.out_iov[out] = {s.out[out], rlen};
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
    WorkerEnv env(stats);
    // Blocking socket with a receive timeout: recvmmsg sleeps in the kernel
    // until a datagram arrives, and wakes now and then to check `stop`.
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{0, kUdpStopCheckMs * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!stop.load(std::memory_order_relaxed)) {
        if (!serve_batch(fd, *slots, env, state, health, stats)) {
            SP_LOG_ERROR("udp worker: recvmmsg: %s", std::strerror(errno));
            break;
        }
    }
}

}  // namespace signpost::dnsd
