#include "dnsd/redirect/geo_feed.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "common/log.hpp"
#include "common/unix_socket.hpp"

namespace signpost::dnsd {
inline namespace redirect {

namespace {
// geoipd's lines are short; a line this long is not geoipd speaking.
constexpr std::size_t kMaxLine = 64 * 1024;
constexpr std::size_t kMaxFdsPerRead = 8;
}  // namespace

GeoFeed::GeoFeed(std::function<std::string()> socket_path, OnTable on_table)
    : socket_path_(std::move(socket_path)), on_table_(std::move(on_table)) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

GeoFeed::~GeoFeed() {
    stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void GeoFeed::start() {
    thread_ = std::thread([this] { run(); });
}

void GeoFeed::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    wake();
    thread_.join();
}

void GeoFeed::wait_first(std::chrono::milliseconds limit) {
    std::unique_lock lock(first_mu_);
    first_cv_.wait_for(lock, limit, [this] { return first_done_; });
}

void GeoFeed::first_attempt_done() {
    {
        std::lock_guard lock(first_mu_);
        if (first_done_) return;
        first_done_ = true;
    }
    first_cv_.notify_all();
}

void GeoFeed::wake() {
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof one);
    (void)w;
}

bool GeoFeed::wait_wake(std::chrono::milliseconds timeout) {
    pollfd p{wake_fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return false;
    std::uint64_t v;
    while (::read(wake_fd_, &v, sizeof v) > 0) {
    }
    return true;
}

void GeoFeed::run() {
    auto backoff = kMinBackoff;
    bool failing_logged = false;
    while (!stopping_) {
        const std::string path = socket_path_();
        if (path.empty()) {
            first_attempt_done();
            wait_wake(std::chrono::seconds(1));
            continue;
        }
        const bool delivered = session(path);
        first_attempt_done();
        if (stopping_) break;
        if (delivered) {
            backoff = kMinBackoff;
            // (A lost connection was said when it was lost: once per outage.)
            failing_logged = in_outage_;
        } else if (!failing_logged) {
            if (!in_outage_) {
                in_outage_ = true;
                outage_since_ = std::chrono::steady_clock::now();
            }
            // Said once per outage, not once per retry.
            SP_LOG_WARN(
                "degraded: no geo table from geoipd at %s; %s; retrying every %lld ms at most",
                path.c_str(),
                have_table_ ? "answering from the last table received"
                            : "geo redirects answer from their fallback pools",
                static_cast<long long>(kMaxBackoff.count()));
            failing_logged = true;
        }
        wait_wake(backoff);
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

bool GeoFeed::session(const std::string& path) {
    std::string error;
    const int fd = common::connect_unix(path, error);
    if (fd < 0) return false;
    got_table_this_session_ = false;
    answered_this_session_ = false;
    session_path_ = path;
    static constexpr char kSubscribe[] = "subscribe\n";
    if (::send(fd, kSubscribe, sizeof kSubscribe - 1, MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sizeof kSubscribe - 1)) {
        ::close(fd);
        return false;
    }
    connected_ = true;
    const auto started = std::chrono::steady_clock::now();
    std::string buf;
    std::deque<int> fds;  // received with the table lines, in order
    std::string why = "closed by geoipd";
    for (;;) {
        int timeout = -1;
        if (!answered_this_session_) {
            const auto left =
                kFirstTableTimeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - started);
            if (left.count() <= 0) {
                why = "no table within " + std::to_string(kFirstTableTimeout.count()) +
                      " ms of subscribing";
                break;
            }
            timeout = static_cast<int>(left.count());
        }
        pollfd p[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
        if (::poll(p, 2, timeout) < 0 && errno != EINTR) break;
        if (p[1].revents) {
            std::uint64_t v;
            while (::read(wake_fd_, &v, sizeof v) > 0) {
            }
            if (stopping_) break;
            if (socket_path_() != path) {
                why = "socket changed by a reload";
                break;
            }
        }
        if (!p[0].revents) continue;
        char data[16384];
        std::vector<int> got;
        bool truncated = false;
        const ssize_t n = common::recv_with_fds(fd, data, sizeof data, kMaxFdsPerRead, got,
                                                truncated, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) {  // nothing was received, control messages included
            why = std::strerror(errno);
            break;
        }
        if (truncated) {
            // The kernel closed the fds that did not fit; the lines they came
            // with can no longer be paired with theirs: start afresh.
            why = "more file descriptors than expected in one read";
            for (int g : got) ::close(g);
            break;
        }
        fds.insert(fds.end(), got.begin(), got.end());
        if (n == 0) break;  // closed by geoipd
        buf.append(data, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (std::size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
            const std::string_view line(buf.data() + start, nl - start);
            int table_fd = -1;
            if (line.starts_with("{\"table\":")) {
                if (fds.empty()) {
                    SP_LOG_WARN("geoipd sent a table line without its file descriptor: ignored");
                    continue;
                }
                table_fd = fds.front();
                fds.pop_front();
            }
            on_line(line, table_fd);
        }
        buf.erase(0, start);
        if (buf.size() > kMaxLine) {
            why = "a line of more than 64 KiB: not geoipd";
            break;
        }
    }
    for (int f : fds) ::close(f);
    ::close(fd);
    connected_ = false;
    if (!stopping_ && got_table_this_session_) {
        ++disconnects_;
        in_outage_ = true;
        outage_since_ = std::chrono::steady_clock::now();
        SP_LOG_WARN(
            "degraded: geoipd connection at %s lost (%s): answering from geo table generation %llu "
            "until it is back",
            path.c_str(), why.c_str(), static_cast<unsigned long long>(last_generation_));
    }
    return got_table_this_session_;
}

void GeoFeed::on_line(std::string_view line, int fd) {
    if (fd < 0) {
        if (line.starts_with("{\"error\":"))
            SP_LOG_WARN("geoipd: %.*s", static_cast<int>(line.size()), line.data());
        return;
    }
    std::string error;
    // geoipd answered: a refused table is not a hung geoipd (reconnecting
    // would only fetch the same table again); wait for its next generation.
    answered_this_session_ = true;
    auto table = common::GeoTable::map_fd(fd, true, error);
    if (!table) {
        ++refused_;
        SP_LOG_ERROR("degraded: geo table from geoipd refused (%s); %s", error.c_str(),
                     have_table_ ? "still answering from the previous table"
                                 : "geo redirects answer from their fallback pools");
        return;
    }
    got_table_this_session_ = true;
    if (in_outage_) {
        in_outage_ = false;
        const auto s = std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::steady_clock::now() - outage_since_);
        SP_LOG_INFO("recovered: geoipd at %s is back after %lld s (table generation %llu)",
                    session_path_.c_str(), static_cast<long long>(s.count()),
                    static_cast<unsigned long long>(table->generation()));
    }
    // A reconnect hands over the table already in use: nothing to compile.
    if (have_table_ && table->generation() == last_generation_ &&
        table->header().checksum == last_checksum_)
        return;
    have_table_ = true;
    last_generation_ = table->generation();
    last_checksum_ = table->header().checksum;
    ++received_;
    SP_LOG_INFO("geo table generation %llu from geoipd: %u IPv4 and %u IPv6 ranges, %u facts",
                static_cast<unsigned long long>(table->generation()), table->header().v4_count,
                table->header().v6_count, table->header().fact_count);
    on_table_(std::move(table));
    first_attempt_done();
}

}  // namespace redirect
}  // namespace signpost::dnsd
