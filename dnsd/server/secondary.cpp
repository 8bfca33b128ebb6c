#include "dnsd/server/secondary.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <random>

#include "common/atomic_file.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/wire/tsig.hpp"
#include "dnsd/zone/zone_copy.hpp"
#include "dnsd/zone/zone_loader.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {

using Clock = std::chrono::steady_clock;

// How long one exchange may take: an SOA query, a TCP connect, the wait for
// each message of a transfer, and a whole transfer.
constexpr int kSoaTimeoutMs = 2000;
constexpr int kConnectTimeoutMs = 5000;
constexpr int kMessageTimeoutMs = 30000;
constexpr auto kTransferDeadline = std::chrono::minutes(10);
// Without a copy (no SOA to take a retry interval from): this, doubled per
// failure up to kMaxRetry.
constexpr unsigned kFirstRetry = 5, kMaxRetry = 300;
// Refresh and retry intervals below this are raised to it (as Knot's
// refresh-min-interval); NOTIFYs closer together than kNotifyGap coalesce.
constexpr std::uint32_t kMinInterval = 2;
constexpr auto kNotifyGap = std::chrono::seconds(1);

std::uint64_t unix_now() {
    return static_cast<std::uint64_t>(std::time(nullptr));
}

bool newer(std::uint32_t a, std::uint32_t b) {  // RFC 1982
    return a != b && static_cast<std::int32_t>(a - b) > 0;
}

std::uint16_t random_id() {
    static thread_local std::mt19937 rng{std::random_device{}()};
    return static_cast<std::uint16_t>(rng());
}

// A query for the zone's apex: SOA, AXFR or IXFR (with `soa`, our copy's,
// in authority, RFC 1995 3), signed with `key` when there is one.
std::vector<std::uint8_t> make_request(const std::string& origin, std::uint16_t qtype,
                                       std::uint16_t id, const Record* soa, std::uint32_t soa_ttl,
                                       const TsigKey* key, std::vector<std::uint8_t>& mac) {
    std::vector<std::uint8_t> m;
    m.reserve(kHeaderSize + origin.size() + 4 + 12 + (soa ? soa->rdata.size() : 0) + 512);
    m.resize(kHeaderSize);
    store16(m.data(), id);
    store16(m.data() + 4, 1);
    m.insert(m.end(), origin.begin(), origin.end());
    const std::uint8_t tail[] = {static_cast<std::uint8_t>(qtype >> 8),
                                 static_cast<std::uint8_t>(qtype), 0, 1};
    m.insert(m.end(), tail, tail + 4);
    if (soa) {
        store16(m.data() + 8, 1);
        const std::uint8_t rr[] = {0xc0,
                                   kHeaderSize,  // the question's name
                                   0,
                                   6,  // SOA
                                   0,
                                   1,
                                   static_cast<std::uint8_t>(soa_ttl >> 24),
                                   static_cast<std::uint8_t>(soa_ttl >> 16),
                                   static_cast<std::uint8_t>(soa_ttl >> 8),
                                   static_cast<std::uint8_t>(soa_ttl),
                                   static_cast<std::uint8_t>(soa->rdata.size() >> 8),
                                   static_cast<std::uint8_t>(soa->rdata.size())};
        m.insert(m.end(), rr, rr + sizeof rr);
        m.insert(m.end(), soa->rdata.begin(), soa->rdata.end());
    }
    if (key) {
        const std::size_t len = m.size();
        m.resize(len + 512);
        m.resize(sign_request(m.data(), len, m.size(), *key, unix_now(), mac));
    }
    return m;
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

// Readable once dnsd stops: every wait of the secondaries' thread ends then.
thread_local int t_stop_fd = -1;

bool wait_for(int fd, short events, int timeout_ms) {
    pollfd p[2] = {{fd, events, 0}, {t_stop_fd, POLLIN, 0}};
    for (;;) {
        const int n = ::poll(p, t_stop_fd >= 0 ? 2 : 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        return n > 0 && p[0].revents != 0 && (t_stop_fd < 0 || p[1].revents == 0);
    }
}

int connect_tcp(const ListenAddress& to, std::string& error) {
    sockaddr_storage ss;
    const unsigned len = to.address.to_sockaddr(&ss);
    reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(to.port);  // same offset for v6
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return -1;
    }
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
        error = std::string("connect: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (!wait_for(fd, POLLOUT, kConnectTimeoutMs)) {
        error = "connect: no answer in " + std::to_string(kConnectTimeoutMs / 1000) + " s";
        ::close(fd);
        return -1;
    }
    int err = 0;
    socklen_t el = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) {
        error = std::string("connect: ") + std::strerror(err);
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_all(int fd, const std::uint8_t* p, std::size_t n, std::string& error) {
    while (n > 0) {
        const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN && wait_for(fd, POLLOUT, kMessageTimeoutMs)) continue;
        if (w <= 0) {
            error = std::string("send: ") + std::strerror(errno);
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

bool recv_all(int fd, std::uint8_t* p, std::size_t n, Clock::time_point deadline,
              std::string& error) {
    while (n > 0) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        const int wait = static_cast<int>(
            std::min<long long>(kMessageTimeoutMs, std::max<long long>(0, left.count())));
        if (wait <= 0 || !wait_for(fd, POLLIN, wait)) {
            error = left.count() <= 0
                        ? "the transfer took longer than its deadline"
                        : "no data for " + std::to_string(kMessageTimeoutMs / 1000) + " s";
            return false;
        }
        const ssize_t r = ::recv(fd, p, n, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) {
            error = r == 0 ? "the primary closed the connection" : std::strerror(errno);
            return false;
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

// Sends `request` over TCP and feeds each message of the answer to `reader`
// (and to `verifier` first, when signed) until it is complete.
bool tcp_exchange(const ListenAddress& to, const std::vector<std::uint8_t>& request,
                  TransferReader& reader, TsigVerifier* verifier, std::string& error) {
    const int raw = connect_tcp(to, error);
    if (raw < 0) return false;
    Fd fd(raw);
    std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(request.size() >> 8),
                                     static_cast<std::uint8_t>(request.size())};
    framed.insert(framed.end(), request.begin(), request.end());
    if (!send_all(fd.get(), framed.data(), framed.size(), error)) return false;
    const auto deadline = Clock::now() + kTransferDeadline;
    std::vector<std::uint8_t> msg;
    for (;;) {
        std::uint8_t len[2];
        if (!recv_all(fd.get(), len, 2, deadline, error)) return false;
        msg.resize((std::size_t{len[0]} << 8) | len[1]);
        if (!recv_all(fd.get(), msg.data(), msg.size(), deadline, error)) return false;
        if (verifier && !verifier->verify(msg, unix_now(), error)) return false;
        const auto st = reader.feed(msg);
        if (st == TransferReader::Status::kError) {
            error = reader.error();
            return false;
        }
        if (st == TransferReader::Status::kDone) {
            if (verifier && !verifier->last_signed()) {
                error = "the last message of the answer is not signed";
                return false;
            }
            return true;
        }
    }
}

// The primary's SOA serial, over UDP (TCP when the answer is truncated).
std::optional<std::uint32_t> query_soa(const ListenAddress& to, const std::string& origin,
                                       const TsigKey* key, std::string& error) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        const std::uint16_t id = random_id();
        std::vector<std::uint8_t> mac;
        const auto req = make_request(origin, type::SOA, id, nullptr, 0, key, mac);
        sockaddr_storage ss;
        const unsigned len = to.address.to_sockaddr(&ss);
        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(to.port);
        Fd fd(::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
            ::send(fd.get(), req.data(), req.size(), 0) < 0) {
            error = std::string("SOA query: ") + std::strerror(errno);
            return std::nullopt;
        }
        std::vector<std::uint8_t> buf(65535);
        ssize_t n = -1;
        const auto until = Clock::now() + std::chrono::milliseconds(kSoaTimeoutMs);
        while (n < 0) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
            if (left.count() <= 0 || !wait_for(fd.get(), POLLIN, static_cast<int>(left.count())))
                break;
            n = ::recv(fd.get(), buf.data(), buf.size(), 0);
            if (n < 0 && errno == ECONNREFUSED) {
                error = "SOA query: connection refused (is the primary listening?)";
                return std::nullopt;
            }
            if (n >= 12 && load16(buf.data()) != id) n = -1;  // a stray answer: wait on
        }
        if (n < 0) {
            error = "SOA query: no answer in " + std::to_string(kSoaTimeoutMs / 1000) + " s";
            continue;
        }
        buf.resize(static_cast<std::size_t>(n));
        TransferReader reader(origin, id, nullptr, 0, 64);
        std::optional<TsigVerifier> verifier;
        if (key) verifier.emplace(*key, mac);
        if (buf.size() >= 4 && (buf[2] & 0x02)) {  // TC: ask again over TCP
            if (!tcp_exchange(to, req, reader, verifier ? &*verifier : nullptr, error))
                return std::nullopt;
        } else {
            if (verifier && !verifier->verify(buf, unix_now(), error)) return std::nullopt;
            reader.feed(buf);
        }
        // The reader has taken the SOA as the first record of an answer.
        if (!reader.error().empty()) {
            error = "SOA query: " + reader.error();
            return std::nullopt;
        }
        return reader.serial();
    }
    return std::nullopt;
}

// The copy was confirmed by a primary now: its mtime says so (see secondary_copy_expired).
void touch(const std::string& file) {
    if (::utimensat(AT_FDCWD, file.c_str(), nullptr, 0) != 0)
        SP_LOG_WARN(
            "secondary: cannot touch %s (%s): after a restart the copy may look older "
            "than it is",
            file.c_str(), std::strerror(errno));
}

}  // namespace

NotifyInbox::NotifyInbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

NotifyInbox::~NotifyInbox() {
    if (fd_ >= 0) ::close(fd_);
}

void NotifyInbox::notified(std::string_view origin, const common::IpAddress&) const {
    {
        std::lock_guard lock(mu_);
        if (!pending_.emplace(origin).second) return;  // already waiting
    }
    std::uint64_t one = 1;
    ssize_t w = ::write(fd_, &one, sizeof one);
    (void)w;
}

std::set<std::string> NotifyInbox::take() {
    std::uint64_t v;
    while (::read(fd_, &v, sizeof v) > 0) {
    }
    std::lock_guard lock(mu_);
    return std::exchange(pending_, {});
}

bool secondary_copy_expired(const std::string& file, std::uint32_t expire) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return true;
    return static_cast<std::uint64_t>(st.st_mtime) + expire < unix_now();
}

Secondaries::Secondaries(common::Snapshot<ServingState>& state, std::shared_ptr<NotifyInbox> inbox,
                         std::function<std::string()> reload)
    : state_(state),
      reload_(std::move(reload)),
      inbox_(std::move(inbox)),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      stop_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Secondaries::~Secondaries() {
    stop();
    for (int fd : {wake_fd_, stop_fd_})
        if (fd >= 0) ::close(fd);
}

void Secondaries::start() {
    update();
    thread_ = std::thread([this] { run(); });
}

void Secondaries::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    std::uint64_t one = 1;
    ssize_t w = ::write(stop_fd_, &one, sizeof one);
    (void)w;
    thread_.join();
}

void Secondaries::update() {
    const auto st = state_.load();
    bool added = false;
    {
        std::lock_guard lock(mu_);
        std::map<std::string, Tracked> next;
        for (const auto& zc : st->secondaries) {
            const std::string origin = text_to_wire(zc.name);
            auto it = zones_.find(origin);
            Tracked t;
            if (it != zones_.end()) {
                t = std::move(it->second);
            } else {
                t.origin = origin;
                t.next = Clock::now();  // a new secondary zone: check its primaries at once
                struct stat sb {};
                if (::stat(zc.file.c_str(), &sb) == 0)
                    t.last_ok_unix = static_cast<std::uint64_t>(sb.st_mtime);
                added = true;
            }
            t.config = zc;
            next.emplace(origin, std::move(t));
        }
        zones_ = std::move(next);
    }
    if (added) {
        std::uint64_t one = 1;
        ssize_t w = ::write(wake_fd_, &one, sizeof one);
        (void)w;
    }
}

void Secondaries::run() {
    t_stop_fd = stop_fd_;
    while (!stopping_) {
        // The zone due first; NOTIFYs and stop() wake the wait early.
        std::string due;
        Clock::time_point when = Clock::now() + std::chrono::hours(1);
        {
            std::lock_guard lock(mu_);
            for (const auto& [origin, t] : zones_)
                if (t.next < when) {
                    when = t.next;
                    due = origin;
                }
        }
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now()).count();
        if (wait > 0) {
            pollfd p[3] = {{wake_fd_, POLLIN, 0}, {inbox_->fd(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
            const int n = ::poll(p, 3, static_cast<int>(std::min<long long>(wait, 3600000)));
            if (stopping_) return;
            if (n > 0) {
                std::uint64_t v;
                while (::read(wake_fd_, &v, sizeof v) > 0) {
                }
                std::lock_guard lock(mu_);
                for (const auto& origin : inbox_->take()) {
                    auto it = zones_.find(origin);
                    if (it == zones_.end()) continue;
                    ++it->second.notifies;
                    SP_LOG_INFO("secondary %s: NOTIFY from a primary: checking its serial",
                                it->second.config.name.c_str());
                    // At most one check per second however many NOTIFYs come (a
                    // spoofed flood must not turn into a flood at the primary).
                    it->second.next = std::max(Clock::now(), it->second.last_check + kNotifyGap);
                }
                continue;
            }
            continue;
        }
        Tracked t;
        {
            std::lock_guard lock(mu_);
            auto it = zones_.find(due);
            if (it == zones_.end()) continue;
            t = it->second;
        }
        refresh(t);
        std::lock_guard lock(mu_);
        auto it = zones_.find(due);
        if (it == zones_.end()) continue;  // dropped from the config meanwhile
        // A reload during the refresh may have changed its config.
        t.config = it->second.config;
        it->second = std::move(t);
    }
}

void Secondaries::answered(Tracked& t, const ListenAddress& primary) {
    if (t.failures > 0)
        SP_LOG_INFO("recovered: secondary %s: %s answers again, after %u failed check(s)",
                    t.config.name.c_str(), primary.text().c_str(), t.failures);
    t.failures = 0;
    t.last_ok_unix = unix_now();
}

void Secondaries::refresh(Tracked& t) {
    const std::string& name = t.config.name;
    const TsigKey* key = t.config.primary_key.get();
    // The copy being served, if any: its serial, SOA and records.
    std::shared_ptr<const Zone> copy;
    const auto st = state_.load();  // held: a reload meanwhile must not free the zones
    t.last_check = Clock::now();
    for (const auto& z : st->zones.all())
        if (z->origin == t.origin && !z->unavailable) copy = z;
    const SoaTimers timers = copy ? soa_timers(copy->soa->records.front().rdata) : SoaTimers{};
    const auto interval = [](std::uint32_t s) {
        return std::chrono::seconds(std::clamp<std::uint32_t>(s, kMinInterval, 7 * 86400));
    };
    ++t.checks;
    std::string errors;
    for (const auto& primary : t.config.primaries) {
        std::string error;
        const auto serial = query_soa(primary, t.origin, key, error);
        if (!serial) {
            errors += (errors.empty() ? "" : "; ") + primary.text() + ": " + error;
            continue;
        }
        if (copy && !newer(*serial, copy->serial)) {
            // Current: the copy is good for another expire interval.
            touch(t.config.file);
            answered(t, primary);
            t.next = Clock::now() + interval(timers.refresh);
            SP_LOG_DEBUG("secondary %s: serial %u is current (%s)", name.c_str(), *serial,
                         primary.text().c_str());
            return;
        }
        // Newer: IXFR from the copy's serial, or AXFR (no copy, or the IXFR failed).
        // The copy as the primaries sent it (the served zone has the redirect
        // names layered in): kept from the last transfer, else read from disk.
        std::shared_ptr<const RecordSet> have;
        if (copy && t.records && t.records_serial == copy->serial) have = t.records;
        if (copy && !have)
            if (auto disk = load_zone_file(t.config.name, t.config.file); disk.zone)
                have = std::make_shared<const RecordSet>(records_of(*disk.zone));
        if (copy && !have) copy.reset();  // unreadable: take the whole zone
        const std::vector<bool> kinds =
            copy ? std::vector<bool>{true, false} : std::vector<bool>{false};
        for (const bool ixfr : kinds) {
            const auto started = Clock::now();
            const std::uint16_t id = random_id();
            std::vector<std::uint8_t> mac;
            const auto req = make_request(t.origin, ixfr ? type::IXFR : type::AXFR, id,
                                          ixfr ? &copy->soa->records.front() : nullptr,
                                          ixfr ? copy->soa->ttl : 0, key, mac);
            TransferReader reader(t.origin, id, ixfr ? have.get() : nullptr,
                                  copy ? copy->serial : 0);
            std::optional<TsigVerifier> verifier;
            if (key) verifier.emplace(*key, mac);
            error.clear();
            if (!tcp_exchange(primary, req, reader, verifier ? &*verifier : nullptr, error)) {
                errors += (errors.empty() ? "" : "; ") + primary.text() + " " +
                          (ixfr ? "IXFR" : "AXFR") + ": " + error;
                continue;  // IXFR failed: AXFR next; AXFR failed: the next primary
            }
            const auto received = Clock::now();
            if (reader.kind() == TransferReader::Kind::kCurrent) {
                touch(t.config.file);
                answered(t, primary);
                t.next = Clock::now() + interval(timers.refresh);
                return;
            }
            if (copy && !newer(reader.serial(), copy->serial)) {
                errors += (errors.empty() ? "" : "; ") + primary.text() + " sent serial " +
                          std::to_string(reader.serial()) + ", not newer than the copy's " +
                          std::to_string(copy->serial);
                break;
            }
            // The new copy: written aside, checked by the zone loader, renamed into place.
            const bool incremental = reader.kind() == TransferReader::Kind::kIncremental;
            std::string content;
            const std::string header =
                "zone " + name + " serial " + std::to_string(reader.serial()) + " from " +
                primary.text() + " by " + (incremental ? "IXFR" : "AXFR") +
                "\nwritten by dnsd (a secondary zone): do not edit, dnsd replaces it";
            const std::string tmp = t.config.file + ".dnsd-tmp";
            if (!zone_text(reader.records(), header, content, error) ||
                !common::write_synced(tmp, content, error)) {
                errors += (errors.empty() ? "" : "; ") + error;
                break;
            }
            const auto loaded = load_zone_file(t.config.name, tmp);
            if (!loaded.zone) {
                ::unlink(tmp.c_str());
                errors += (errors.empty() ? "" : "; ") + primary.text() +
                          ": the transferred zone is refused: " + loaded.error;
                break;
            }
            if (!common::rename_synced(tmp, t.config.file, error)) {
                errors += (errors.empty() ? "" : "; ") + error;
                break;
            }
            const auto ms = [](Clock::duration d) {
                return std::chrono::duration<double, std::milli>(d).count();
            };
            ++(incremental ? t.ixfr : t.axfr);
            answered(t, primary);
            SP_LOG_INFO(
                "secondary %s: serial %u from %s by %s (%zu %s%s) in %.0f ms (%.0f ms to receive, "
                "%.0f ms to write and check the copy)",
                name.c_str(), reader.serial(), primary.text().c_str(),
                incremental ? "IXFR" : "AXFR", reader.changes(),
                incremental ? "record(s) changed" : "records",
                incremental ? (", " + std::to_string(reader.steps()) + " version(s)").c_str() : "",
                ms(Clock::now() - started), ms(received - started), ms(Clock::now() - received));
            const SoaTimers now_timers = soa_timers(loaded.zone->soa->records.front().rdata);
            t.next = Clock::now() + interval(now_timers.refresh);
            t.records_serial = reader.serial();
            t.records = std::make_shared<const RecordSet>(std::move(reader.records()));
            if (const std::string why = reload_(); !why.empty())
                SP_LOG_ERROR("secondary %s: the new copy is on disk but the reload failed: %s",
                             name.c_str(), why.c_str());
            return;
        }
    }
    // No primary answered (or none gave a usable zone): said once per outage,
    // each later failure at debug level, and the end when one answers again.
    ++t.check_failures;
    ++t.failures;
    const auto wait = copy ? interval(timers.retry)
                           : std::chrono::seconds(std::min<unsigned>(
                                 kMaxRetry, kFirstRetry << std::min<unsigned>(t.failures - 1, 6)));
    t.next = Clock::now() + wait;
    if (copy) {  // the expiry is noticed when it comes, not at the next retry after it
        const std::uint64_t expires = t.last_ok_unix + timers.expire, now = unix_now();
        if (expires > now && expires - now < static_cast<std::uint64_t>(wait.count()))
            t.next = Clock::now() + std::chrono::seconds(expires - now + 1);
    }
    if (t.failures == 1)
        SP_LOG_WARN("degraded: secondary %s: refresh failed (%s); retrying every %lld s",
                    name.c_str(), errors.c_str(), static_cast<long long>(wait.count()));
    else
        SP_LOG_DEBUG("secondary %s: refresh failed again (%s)", name.c_str(), errors.c_str());
    if (copy && secondary_copy_expired(t.config.file, timers.expire)) {
        SP_LOG_ERROR(
            "degraded: secondary %s expired: no primary has answered for %u s (the SOA expire); "
            "answering SERVFAIL until one does",
            name.c_str(), timers.expire);
        if (const std::string why = reload_(); !why.empty())
            SP_LOG_ERROR("secondary %s: reload failed: %s", name.c_str(), why.c_str());
    }
}

void Secondaries::render(std::string& out) const {
    std::lock_guard lock(mu_);
    if (zones_.empty()) return;
    const auto st = state_.load();
    auto head = [&](const char* name, const char* type, const char* help) {
        out += std::string("# HELP signpost_dnsd_secondary_") + name + " " + help +
               "\n# TYPE signpost_dnsd_secondary_" + name + " " + type + "\n";
    };
    auto line = [&](const char* name, const std::string& labels, std::uint64_t v) {
        out += std::string("signpost_dnsd_secondary_") + name + "{" + labels + "} " +
               std::to_string(v) + "\n";
    };
    auto label = [](const Tracked& t) { return "zone=" + common::label_value(t.config.name); };
    head("serial", "gauge", "the serial of the copy served (0: none yet)");
    for (const auto& [o, t] : zones_) {
        std::uint32_t serial = 0;
        for (const auto& z : st->zones.all())
            if (z->origin == o && !z->unavailable) serial = z->serial;
        line("serial", label(t), serial);
    }
    head("available", "gauge",
         "1 while the zone is served, 0 before its first transfer or once expired");
    for (const auto& [o, t] : zones_) {
        bool up = false;
        for (const auto& z : st->zones.all())
            if (z->origin == o) up = !z->unavailable;
        line("available", label(t), up ? 1 : 0);
    }
    head("last_refresh_timestamp_seconds", "gauge",
         "when a primary last confirmed or replaced the copy");
    for (const auto& [o, t] : zones_)
        line("last_refresh_timestamp_seconds", label(t), t.last_ok_unix);
    head("checks_total", "counter", "SOA checks of the primaries");
    for (const auto& [o, t] : zones_) line("checks_total", label(t), t.checks);
    head("check_failures_total", "counter",
         "checks in which no primary answered or gave a usable zone");
    for (const auto& [o, t] : zones_) line("check_failures_total", label(t), t.check_failures);
    head("transfers_total", "counter", "copies taken from a primary, by kind");
    for (const auto& [o, t] : zones_) {
        line("transfers_total", label(t) + ",kind=\"axfr\"", t.axfr);
        line("transfers_total", label(t) + ",kind=\"ixfr\"", t.ixfr);
    }
    head("notifies_total", "counter", "NOTIFYs from the primaries acted on");
    for (const auto& [o, t] : zones_) line("notifies_total", label(t), t.notifies);
}

}  // namespace server
}  // namespace signpost::dnsd
