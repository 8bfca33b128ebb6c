#include "geoipd/server.hpp"

#include <errno.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>

#include "common/event_loop.hpp"
#include "common/geo_protocol.hpp"
#include "common/line_framer.hpp"
#include "common/log.hpp"
#include "common/unix_socket.hpp"
#include "geoipd/request_handler.hpp"

namespace signpost::geoipd {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
// Pushed tables a subscriber may leave unread before it is closed rather than
// pushed to: each one pins a whole table image, in our queue or in the
// socket's (an fd in flight keeps its memfd alive until the peer reads it).
constexpr unsigned kMaxUnreadPushes = 4;
}  // namespace

namespace {

struct Connection {
    int fd = -1;
    common::LineFramer framer{common::kMaxRequestLine};
    common::OutBuffer out;  // table fds ride with the first byte of their table line
    bool subscribed = false;
    std::uint64_t table_generation = 0;  // newest generation sent or queued to it
    unsigned unread_pushes = 0;          // pushed since the peer last had nothing left to read
    bool read_closed = false;
    bool reading_paused = false;
    std::size_t pending() const { return out.pending(); }
    // The table line starting at `line_start` of out.buffer() carries t's memfd;
    // the shared_ptr keeps the table, and so the memfd, open until it is sent.
    void queue_table(std::shared_ptr<const common::GeoTable> t, std::size_t line_start) {
        const int tfd = t->fd();
        out.pass_fd(line_start, tfd, std::move(t));
    }
};

class Worker {
  public:
    Worker(common::EventLoop& loop, int listen_fd, const ServerOptions& opts,
           common::Snapshot<DatabaseSet>& dbs, Stats& stats, WorkerCounters& counters)
        : loop_(loop), listen_fd_(listen_fd), opts_(opts), dbs_(dbs), stats_(stats), c_(counters) {}
    ~Worker() {
        for (auto& [fd, conn] : conns_) close_conn(fd, false);
    }
    void on_listen();
    void on_conn(int fd, std::uint32_t events);
    // A new generation was published: push its table to every subscriber.
    void on_publish();

  private:
    using Conn = Connection;
    void handle_line(Conn& c, std::string_view line, const DatabaseSet& set);
    void consume(Conn& c, const char* data, std::size_t n, const DatabaseSet& set);
    void update_interest(Conn& c);
    void close_conn(int fd, bool erase = true);

    common::EventLoop& loop_;
    int listen_fd_;
    const ServerOptions& opts_;
    common::Snapshot<DatabaseSet>& dbs_;
    Stats& stats_;
    WorkerCounters& c_;
    std::unordered_map<int, std::unique_ptr<Conn>> conns_;
    char buf_[kReadChunk];
};

void Worker::on_listen() {
    for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                SP_LOG_WARN("accept: %s", std::strerror(errno));
            return;
        }
        if (stats_.connections_current.fetch_add(1) >=
            static_cast<std::int64_t>(opts_.max_clients)) {
            stats_.connections_current.fetch_sub(1);
            bump(c_.connections_refused);
            static constexpr char kFull[] = "{\"error\":\"too many clients\",\"input\":\"\"}\n";
            ssize_t w = ::send(fd, kFull, sizeof kFull - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
            ::close(fd);
            continue;
        }
        bump(c_.connections_accepted);
        auto conn = std::make_unique<Conn>();
        conn->fd = fd;
        if (!loop_.add(fd, EPOLLIN | EPOLLRDHUP,
                       [this, fd](std::uint32_t events) { on_conn(fd, events); })) {
            stats_.connections_current.fetch_sub(1);
            ::close(fd);
            continue;
        }
        conns_.emplace(fd, std::move(conn));
    }
}

void Worker::handle_line(Conn& c, std::string_view line, const DatabaseSet& set) {
    const std::size_t line_start = c.out.buffer().size();
    RequestEffects fx;
    handle_request_line(line, set, stats_, c_, c.out.buffer(), &fx);
    if (fx.attach_table) c.queue_table(set.table(), line_start);
    if (fx.subscribe) {
        c.subscribed = true;
        if (set.generation() > c.table_generation) c.table_generation = set.generation();
    }
}

void Worker::on_publish() {
    const auto set = dbs_.load();
    const std::uint64_t gen = set->generation();
    std::vector<int> drop;
    for (auto& [fd, conn] : conns_) {
        Conn& c = *conn;
        if (!c.subscribed || c.table_generation >= gen) continue;
        // Everything sent so far has been read (our queue and the socket's
        // are empty): the pushes before are no longer pinned.
        int unread = -1;
        if (c.pending() == 0 && ::ioctl(fd, SIOCOUTQ, &unread) == 0 && unread == 0)
            c.unread_pushes = 0;
        // A subscriber that is not reading would otherwise pin one table
        // image per generation: close it (it can reconnect and subscribe).
        if (c.pending() > opts_.max_pending_output || c.unread_pushes >= kMaxUnreadPushes) {
            SP_LOG_WARN(
                "closing table subscriber (fd %d): %u pushed tables and %zu bytes "
                "unread, cannot push generation %llu",
                fd, c.unread_pushes, c.pending(), static_cast<unsigned long long>(gen));
            bump(c_.subscribers_dropped);
            drop.push_back(fd);
            continue;
        }
        const std::size_t line_start = c.out.buffer().size();
        append_table_line(c.out.buffer(), *set->table());
        c.queue_table(set->table(), line_start);
        c.table_generation = gen;
        ++c.unread_pushes;
        bump(c_.table_pushes);
        if (!c.out.flush(fd)) {
            drop.push_back(fd);
            continue;
        }
        update_interest(c);
    }
    for (int fd : drop) close_conn(fd);
}

void Worker::consume(Conn& c, const char* data, std::size_t n, const DatabaseSet& set) {
    c.framer.feed(
        std::string_view(data, n), [&](std::string_view line) { handle_line(c, line, set); },
        [&](std::string_view head) {
            bump(c_.bad_requests);
            common::append_error_json(c.out.buffer(), "request too long", head);
        });
}

void Worker::update_interest(Conn& c) {
    // Pause input while too much output is queued; resume at half, so a slow
    // reader does not make us toggle epoll on every answer.
    if (!c.reading_paused && c.pending() > opts_.max_pending_output) {
        c.reading_paused = true;
        bump(c_.reads_paused);
    } else if (c.reading_paused && c.pending() <= opts_.max_pending_output / 2) {
        c.reading_paused = false;
    }
    loop_.watch(c.fd, (c.reading_paused || c.read_closed ? 0u : (EPOLLIN | EPOLLRDHUP)) |
                          (c.pending() > 0 ? EPOLLOUT : 0u));
}

void Worker::close_conn(int fd, bool erase) {
    loop_.remove(fd);
    ::close(fd);
    stats_.connections_current.fetch_sub(1);
    if (erase) conns_.erase(fd);
}

void Worker::on_conn(int fd, std::uint32_t events) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (events & (EPOLLERR)) return close_conn(fd);
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !c.reading_paused && !c.read_closed) {
        // One snapshot per readiness event, not per line.
        const auto set = dbs_.load();
        while (c.pending() <= opts_.max_pending_output) {
            ssize_t n = ::recv(fd, buf_, sizeof buf_, 0);
            if (n > 0) {
                consume(c, buf_, static_cast<std::size_t>(n), *set);
                if (static_cast<std::size_t>(n) < sizeof buf_) break;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            if (n < 0) return close_conn(fd);
            // EOF: answer a last line that came without its newline, then finish.
            c.read_closed = true;
            c.framer.finish([&](std::string_view line) { handle_line(c, line, *set); });
            break;
        }
    }
    if (!c.out.flush(fd)) return close_conn(fd);
    if (c.read_closed && c.pending() == 0) return close_conn(fd);
    update_interest(c);
}

}  // namespace

Server::Server(ServerOptions opts, common::Snapshot<DatabaseSet>& dbs, Stats& stats)
    : opts_(std::move(opts)), dbs_(dbs), stats_(stats) {
    // Made here, not in start(): the reloader may call notify_published()
    // from its thread as soon as it runs, before or while the server starts.
    for (unsigned i = 0; i < opts_.threads; ++i)
        publish_fds_.push_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
}

Server::~Server() {
    stop();
    for (int fd : publish_fds_)
        if (fd >= 0) ::close(fd);
}

void Server::notify_published() {
    for (int fd : publish_fds_) {
        std::uint64_t one = 1;
        ssize_t w = ::write(fd, &one, sizeof one);
        (void)w;
    }
}

bool Server::start(std::string& error) {
    listen_fd_ = common::listen_unix(opts_.socket_path, 1024, error, &opts_.socket_access);
    if (listen_fd_ < 0) return false;
    stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    for (unsigned i = 0; i < opts_.threads; ++i)
        workers_.emplace_back([this, i] { run_worker(i); });
    return true;
}

void Server::run_worker(unsigned index) {
    common::EventLoop loop;
    Worker worker(loop, listen_fd_, opts_, dbs_, stats_, stats_.worker(index));
    // EPOLLEXCLUSIVE: one worker wakes per new connection, not all of them.
    loop.add(listen_fd_, EPOLLIN | EPOLLEXCLUSIVE, [&](std::uint32_t) { worker.on_listen(); });
    loop.add(stop_fd_, EPOLLIN, [&](std::uint32_t) { loop.stop(); });
    const int publish_fd = publish_fds_[index];
    loop.add(publish_fd, EPOLLIN, [&](std::uint32_t) {
        std::uint64_t v;
        while (::read(publish_fd, &v, sizeof v) > 0) {
        }
        worker.on_publish();
    });
    loop.run();
}

void Server::stop() {
    if (stopped_.exchange(true)) return;
    if (stop_fd_ >= 0) {
        std::uint64_t one = 1;
        ssize_t w = ::write(stop_fd_, &one, sizeof one);
        (void)w;
    }
    for (auto& t : workers_) t.join();
    workers_.clear();
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        ::unlink(opts_.socket_path.c_str());
    }
    if (stop_fd_ >= 0) ::close(stop_fd_);
    listen_fd_ = stop_fd_ = -1;
}

}  // namespace signpost::geoipd
