#include "dnsd/server/tcp_server.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "common/event_loop.hpp"
#include "common/log.hpp"
#include "dnsd/health/checker.hpp"
#include "dnsd/server/query_pipeline.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/wire/tsig.hpp"
#include "dnsd/zone/responder.hpp"
#include "dnsd/zone/transfer.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {

using Clock = std::chrono::steady_clock;
// Pending answers per connection before we stop reading its queries: a client
// that pipelines without reading gets backpressure, not our memory.
constexpr std::size_t kMaxPendingOut = 256 * 1024;
// A zone transfer writes at most this much per wake-up before the other
// connections get their turn.
constexpr std::size_t kMaxPerWakeup = 1024 * 1024;

struct Conn {
    int fd = -1;
    common::IpAddress peer;
    std::vector<std::uint8_t> in;
    common::OutBuffer out;
    Clock::time_point last_active;
    bool read_closed = false;
    std::unique_ptr<TransferStream> xfr;  // a zone transfer being sent
    std::unique_ptr<TsigSigner> signer;   // ... and signing each of its messages
};

class TcpServer {
  public:
    TcpServer(common::EventLoop& loop, const TcpLimits& l, common::Snapshot<ServingState>& s,
              common::Snapshot<HealthState>& h, WorkerStats& st)
        : loop_(loop),
          limits_(l),
          state_(s),
          health_(h),
          stats_(st),
          pipeline_(st),
          scratch_(new std::uint8_t[kMaxMessage]) {}
    ~TcpServer() {
        for (auto& [fd, c] : conns_) ::close(fd);
    }
    void accept_all(int lfd);
    void on_event(int fd, std::uint32_t events);
    void expire_idle();

  private:
    void close_conn(int fd);
    void answer_ready(Conn& c);
    // A transfer request from an allowed client starts a stream (true).
    // (`q` is `msg` parsed, kOk.)
    bool start_transfer(Conn& c, std::span<const std::uint8_t> msg, const Query& q,
                        const std::shared_ptr<const ServingState>& snap);
    // The transfer's next messages, up to the output bound; returns the octets queued.
    std::size_t pump(Conn& c);
    void update(Conn& c);

    common::EventLoop& loop_;
    TcpLimits limits_;
    common::Snapshot<ServingState>& state_;
    common::Snapshot<HealthState>& health_;
    WorkerStats& stats_;
    QueryPipeline pipeline_;
    Query query_;  // the message being answered
    std::unique_ptr<std::uint8_t[]> scratch_;
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
    std::map<common::IpAddress, unsigned> per_client_;
    std::set<common::IpAddress> refusal_logged_;  // transfer refusals are said once per client
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
        if (!loop_.add(fd, EPOLLIN | EPOLLRDHUP,
                       [this, fd](std::uint32_t events) { on_event(fd, events); })) {
            --per_client_[ip];
            if (per_client_[ip] == 0) per_client_.erase(ip);
            ::close(fd);
            continue;
        }
        conns_.emplace(fd, std::move(c));
    }
}

void TcpServer::close_conn(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    auto pc = per_client_.find(it->second->peer);
    if (pc != per_client_.end() && --pc->second == 0) per_client_.erase(pc);
    loop_.remove(fd);
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
    while (!c.xfr && c.in.size() - pos >= 2 && c.out.pending() < kMaxPendingOut) {
        const std::size_t len = load16(c.in.data() + pos);
        if (c.in.size() - pos - 2 < len) break;
        if (!snap) {
            snap = state_.load();
            hs = health_.load();
            pipeline_.begin(snap, hs);
        }
        // Idle means no complete query: a client trickling bytes of one
        // message (slowloris) times out like a silent one.
        c.last_active = Clock::now();
        bump(stats_.tcp_queries);
        // Parsed once: for a transfer request, and otherwise for the pipeline.
        const std::span<const std::uint8_t> msg(c.in.data() + pos + 2, len);
        const ParseStatus st = QueryPipeline::parse(msg, false, query_);
        if (st == ParseStatus::kOk && start_transfer(c, msg, query_, snap)) {
            pos += 2 + len;
            if (c.xfr) break;  // the connection's next queries wait for its end
            continue;
        }
        const std::size_t rlen = pipeline_.answer(query_, st, msg, c.peer, Transport::kTcp,
                                                  std::span(scratch_.get(), kMaxMessage));
        pos += 2 + len;
        if (rlen == 0) continue;
        const std::uint8_t prefix[2] = {static_cast<std::uint8_t>(rlen >> 8),
                                        static_cast<std::uint8_t>(rlen)};
        c.out.append(prefix, 2);
        c.out.append(scratch_.get(), rlen);
    }
    if (snap) pipeline_.end();
    c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(pos));
}

bool TcpServer::start_transfer(Conn& c, std::span<const std::uint8_t> msg, const Query& q,
                               const std::shared_ptr<const ServingState>& snap) {
    if (q.opcode != kOpQuery || !q.has_question ||
        (q.qtype != type::AXFR && q.qtype != type::IXFR) || q.qclass != klass::IN)
        return false;
    const NameRef name{q.qname, q.qname_len, q.label_count, q.label_offset};
    const Zone* zone = snap->zones.find(name);
    const bool apex =
        zone &&
        zone->origin == std::string_view(reinterpret_cast<const char*>(q.qname), q.qname_len);
    if (apex && zone->unavailable) return false;  // refused by the responder: nothing to send
    bool allowed = false;
    if (apex)
        for (const auto& p : zone->allow_transfer)
            allowed = allowed || p.contains(c.peer.unmapped());
    const char* why = !apex      ? "not a zone apex served here"
                      : !allowed ? "not in the zone's allow_transfer"
                      : !zone->transfer_keys.empty() && !q.tsig.present
                          ? "not signed (the zone has transfer_keys)"
                          : nullptr;
    auto say_refused = [&](const char* reason) {
        if (refusal_logged_.size() < 4096 && refusal_logged_.insert(c.peer).second)
            SP_LOG_WARN("zone transfer of %s refused for %s: %s (said once per client)",
                        name_to_text(q.qname).c_str(), c.peer.to_string().c_str(), reason);
    };
    if (why) {
        say_refused(why);
        return false;  // answered REFUSED (and counted) by the responder
    }
    std::unique_ptr<TsigSigner> signer;
    if (q.tsig.present) {
        // Checked against this zone's keys (none: every key is unknown here).
        std::vector<const TsigKey*> keys;
        for (const auto& k : zone->transfer_keys) keys.push_back(k.get());
        const auto now = static_cast<std::uint64_t>(std::time(nullptr));
        TsigCheck check = check_tsig(msg, q, keys, now);
        if (check.error != tsig_error::kNone) {
            bump(stats_.axfr_refused);
            say_refused(check.error == tsig_error::kBadKey   ? "TSIG BADKEY (a key this zone "
                                                               "does not have)"
                        : check.error == tsig_error::kBadSig ? "TSIG BADSIG (the MAC is wrong)"
                                                             : "TSIG BADTIME (clocks apart)");
            const std::size_t n = tsig_refusal(q, check, scratch_.get(), kMaxMessage, now);
            const std::uint8_t prefix[2] = {static_cast<std::uint8_t>(n >> 8),
                                            static_cast<std::uint8_t>(n)};
            c.out.append(prefix, 2);
            c.out.append(scratch_.get(), n);
            return true;
        }
        signer = std::make_unique<TsigSigner>(*check.key, std::move(check.request_mac));
    }
    // An IXFR from a serial the history reaches gets the differences (or,
    // from the current serial, the SOA alone); anything else the whole zone.
    std::size_t from = zone->history.size() + 1;
    if (q.qtype == type::IXFR && q.ixfr_serial_present) {
        if (q.ixfr_serial == zone->serial) from = zone->history.size();
        for (std::size_t k = 0; k < zone->history.size(); ++k)
            if (zone->history[k]->from_serial == q.ixfr_serial) from = k;
    }
    const std::span<const std::uint8_t> question(q.question, q.question_len);
    std::string how;
    if (from <= zone->history.size()) {
        auto ixfr = std::make_unique<IxfrStream>(snap, *zone, q, question, from);
        how = "IXFR from serial " + std::to_string(q.ixfr_serial) + ": " +
              std::to_string(ixfr->changes()) + " records";
        c.xfr = std::move(ixfr);
    } else {
        how = q.qtype == type::AXFR ? "AXFR" : "IXFR, sent as AXFR";
        c.xfr = std::make_unique<AxfrStream>(snap, *zone, q, question);
    }
    SP_LOG_INFO("zone transfer (%s%s) of %s serial %u to %s", how.c_str(), signer ? ", TSIG" : "",
                name_to_text(q.qname).c_str(), zone->serial, c.peer.to_string().c_str());
    c.signer = std::move(signer);
    pump(c);
    return true;
}

std::size_t TcpServer::pump(Conn& c) {
    std::size_t produced = 0;
    while (c.xfr && c.out.pending() < kMaxPendingOut) {
        const std::size_t n = c.xfr->next(std::span(scratch_.get(), kMaxMessage));
        if (n == 0) {
            if (c.xfr->failed()) {
                SP_LOG_ERROR(
                    "zone transfer of %s to %s abandoned: a record does not fit in a "
                    "message",
                    name_to_text(reinterpret_cast<const std::uint8_t*>(c.xfr->zone().origin.data()))
                        .c_str(),
                    c.peer.to_string().c_str());
                c.read_closed = true;  // the connection closes once the output is sent
            } else {
                bump(stats_.axfr_served);
                SP_LOG_INFO(
                    "zone transfer of %s serial %u to %s done: %llu records",
                    name_to_text(reinterpret_cast<const std::uint8_t*>(c.xfr->zone().origin.data()))
                        .c_str(),
                    c.xfr->zone().serial, c.peer.to_string().c_str(),
                    static_cast<unsigned long long>(c.xfr->records()));
            }
            c.xfr.reset();
            c.signer.reset();
            break;
        }
        c.last_active = Clock::now();  // the reader is reading: not idle
        std::size_t len = n;
        if (c.signer)
            len = c.signer->sign(scratch_.get(), n, kMaxMessage,
                                 static_cast<std::uint64_t>(std::time(nullptr)));
        const std::uint8_t prefix[2] = {static_cast<std::uint8_t>(len >> 8),
                                        static_cast<std::uint8_t>(len)};
        c.out.append(prefix, 2);
        c.out.append(scratch_.get(), len);
        produced += len + 2;
    }
    return produced;
}

void TcpServer::update(Conn& c) {
    const bool can_read = !c.read_closed && c.out.pending() < kMaxPendingOut;
    // A transfer in progress waits for room to write even with nothing queued
    // (it stopped at kMaxPerWakeup, not for a full socket).
    loop_.watch(
        c.fd, (can_read ? (EPOLLIN | EPOLLRDHUP) : 0u) | (c.out.empty() && !c.xfr ? 0u : EPOLLOUT));
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
                if (c.out.pending() >= kMaxPendingOut) break;
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
    // A transfer is written as the socket takes it: refill while the kernel
    // accepts everything, stop when it holds some back (EPOLLOUT resumes), and
    // after kMaxPerWakeup octets, so that one fast reader cannot keep this
    // thread from its other clients (EPOLLOUT is level-triggered: it resumes).
    for (std::size_t sent = 0;;) {
        if (c.xfr) sent += pump(c);
        if (!c.out.flush(fd)) return close_conn(fd);
        if (!c.xfr || !c.out.empty() || sent >= kMaxPerWakeup) break;
    }
    if (!c.xfr && !c.in.empty()) {  // queries that arrived during the transfer
        answer_ready(c);
        if (!c.out.flush(fd)) return close_conn(fd);
    }
    if (c.read_closed && c.out.empty() && !c.xfr) return close_conn(fd);
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
    common::EventLoop loop;
    TcpServer s(loop, limits, state, health, stats);
    for (int fd : fds) loop.add(fd, EPOLLIN, [&s, fd](std::uint32_t) { s.accept_all(fd); });
    loop.add(stop_fd, EPOLLIN, [&loop](std::uint32_t) { loop.stop(); });
    // Idle connections are swept at a tenth of the timeout (at least every 50 ms).
    const int tick = static_cast<int>(std::max(50u, limits.idle_timeout_ms / 10));
    auto next_sweep = Clock::now();
    loop.run(tick, [&] {
        if (Clock::now() < next_sweep) return;
        s.expire_idle();
        next_sweep = Clock::now() + std::chrono::milliseconds(tick);
    });
}

}  // namespace server
}  // namespace signpost::dnsd
