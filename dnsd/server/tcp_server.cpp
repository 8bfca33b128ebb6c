#include "dnsd/server/tcp_server.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

#include "common/log.hpp"
#include "dnsd/health/checker.hpp"
#include "dnsd/server/query_pipeline.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/zone/responder.hpp"

namespace signpost::dnsd {

namespace {

using Clock = std::chrono::steady_clock;
// Pending answers per connection before we stop reading its queries: a client
// that pipelines without reading gets backpressure, not our memory.
constexpr std::size_t kMaxPendingOut = 256 * 1024;

struct Conn {
    int fd = -1;
    common::IpAddress peer;
    std::vector<std::uint8_t> in;
    std::vector<std::uint8_t> out;
    std::size_t out_pos = 0;
    Clock::time_point last_active;
    std::uint32_t events = 0;
    bool read_closed = false;
};

class TcpServer {
  public:
    TcpServer(const TcpLimits& l, common::Snapshot<ServingState>& s,
              common::Snapshot<HealthState>& h, WorkerStats& st)
        : limits_(l),
          state_(s),
          health_(h),
          stats_(st),
          pipeline_(st),
          scratch_(new std::uint8_t[kMaxMessage]) {}
    ~TcpServer() {
        for (auto& [fd, c] : conns_) ::close(fd);
    }
    int ep = -1;

    void accept_all(int lfd);
    void on_event(int fd, std::uint32_t events);
    void expire_idle();

  private:
    void close_conn(int fd);
    void answer_ready(Conn& c);
    bool flush(Conn& c);
    void update(Conn& c);

    TcpLimits limits_;
    common::Snapshot<ServingState>& state_;
    common::Snapshot<HealthState>& health_;
    WorkerStats& stats_;
    QueryPipeline pipeline_;
    std::unique_ptr<std::uint8_t[]> scratch_;
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
    std::map<common::IpAddress, unsigned> per_client_;
};

void TcpServer::accept_all(int lfd) {
    for (;;) {
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd =
            ::accept4(lfd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            return;
        }
        auto peer = common::IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
        const auto ip = peer ? *peer : common::IpAddress{};
        if (conns_.size() >= limits_.max_connections || per_client_[ip] >= limits_.max_per_client) {
            bump(stats_.tcp_refused);
            ::close(fd);
            if (per_client_[ip] == 0) per_client_.erase(ip);
            continue;
        }
        ++per_client_[ip];
        bump(stats_.tcp_connections);
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        c->peer = ip;
        c->last_active = Clock::now();
        c->events = EPOLLIN | EPOLLRDHUP;
        epoll_event ev{};
        ev.events = c->events;
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        conns_.emplace(fd, std::move(c));
    }
}

void TcpServer::close_conn(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    auto pc = per_client_.find(it->second->peer);
    if (pc != per_client_.end() && --pc->second == 0) per_client_.erase(pc);
    ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_.erase(it);
}

// Answers every complete length-prefixed message in the input, in order.
void TcpServer::answer_ready(Conn& c) {
    std::size_t pos = 0;
    // One state and one health view for every message of this read, as for
    // a UDP batch.
    std::shared_ptr<const ServingState> snap;
    std::shared_ptr<const HealthState> hs;
    while (c.in.size() - pos >= 2 && c.out.size() - c.out_pos < kMaxPendingOut) {
        const std::size_t len = load16(c.in.data() + pos);
        if (c.in.size() - pos - 2 < len) break;
        if (!snap) {
            snap = state_.load();
            hs = health_.load();
            pipeline_.begin(*snap, hs);
        }
        // Idle means no complete query: a client trickling bytes of one
        // message (slowloris) times out like a silent one.
        c.last_active = Clock::now();
        bump(stats_.tcp_queries);
        const std::size_t rlen =
            pipeline_.answer_message(std::span(c.in.data() + pos + 2, len), c.peer, Transport::kTcp,
                                     std::span(scratch_.get(), kMaxMessage));
        pos += 2 + len;
        if (rlen == 0) continue;
        c.out.push_back(static_cast<std::uint8_t>(rlen >> 8));
        c.out.push_back(static_cast<std::uint8_t>(rlen));
        c.out.insert(c.out.end(), scratch_.get(), scratch_.get() + rlen);
    }
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
}

bool TcpServer::flush(Conn& c) {
    while (c.out_pos < c.out.size()) {
        ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
        if (n > 0) {
            c.out_pos += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return false;
    }
    if (c.out_pos == c.out.size()) {
        c.out.clear();
        c.out_pos = 0;
    }
    return true;
}

void TcpServer::update(Conn& c) {
    const bool pending = c.out_pos < c.out.size();
    const bool can_read = !c.read_closed && c.out.size() - c.out_pos < kMaxPendingOut;
    const std::uint32_t want = (can_read ? (EPOLLIN | EPOLLRDHUP) : 0u) | (pending ? EPOLLOUT : 0u);
    if (want == c.events) return;
    c.events = want;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = c.fd;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
}

void TcpServer::on_event(int fd, std::uint32_t events) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (events & EPOLLERR) return close_conn(fd);
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !c.read_closed) {
        std::uint8_t buf[16384];
        for (;;) {
            // Never buffer more than one maximal message plus its prefix unanswered.
            if (c.in.size() > kMaxMessage + 2) break;
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                c.in.insert(c.in.end(), buf, buf + n);
                answer_ready(c);
                if (c.out.size() - c.out_pos >= kMaxPendingOut) break;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0) return close_conn(fd);
            c.read_closed = true;  // EOF: finish sending what is queued, then close
            break;
        }
    }
    if (events & EPOLLOUT) answer_ready(c);  // resume after backpressure
    if (!flush(c)) return close_conn(fd);
    if (c.read_closed && c.out_pos == c.out.size()) return close_conn(fd);
    update(c);
}

void TcpServer::expire_idle() {
    const auto now = Clock::now();
    const auto limit = std::chrono::milliseconds(limits_.idle_timeout_ms);
    std::vector<int> idle;
    for (auto& [fd, c] : conns_)
        if (now - c->last_active >= limit) idle.push_back(fd);
    for (int fd : idle) {
        bump(stats_.tcp_idle_closed);
        close_conn(fd);
    }
}

}  // namespace

void run_tcp_server(const std::vector<int>& fds, const TcpLimits& limits,
                    common::Snapshot<ServingState>& state, common::Snapshot<HealthState>& health,
                    WorkerStats& stats, int stop_fd) {
    TcpServer s(limits, state, health, stats);
    s.ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    for (int fd : fds) {
        ev.data.fd = fd;
        ::epoll_ctl(s.ep, EPOLL_CTL_ADD, fd, &ev);
    }
    ev.data.fd = stop_fd;
    ::epoll_ctl(s.ep, EPOLL_CTL_ADD, stop_fd, &ev);
    // Idle connections are swept at a tenth of the timeout (at least every 50 ms).
    const int tick = static_cast<int>(std::max(50u, limits.idle_timeout_ms / 10));
    auto next_sweep = Clock::now();
    epoll_event events[64];
    for (;;) {
        const int n = ::epoll_wait(s.ep, events, 64, tick);
        if (n < 0 && errno != EINTR) break;
        bool stop = false;
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == stop_fd) {
                stop = true;
            } else if (std::find(fds.begin(), fds.end(), fd) != fds.end()) {
                s.accept_all(fd);
            } else {
                s.on_event(fd, events[i].events);
            }
        }
        if (stop) break;
        if (Clock::now() >= next_sweep) {
            s.expire_idle();
            next_sweep = Clock::now() + std::chrono::milliseconds(tick);
        }
    }
    ::close(s.ep);
}

}  // namespace signpost::dnsd
