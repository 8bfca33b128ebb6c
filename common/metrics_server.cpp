#include "common/metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "common/event_loop.hpp"
#include "common/ip_address.hpp"
#include "common/log.hpp"

namespace signpost::common {

namespace {

// A port alone means 127.0.0.1.
std::optional<HostPort> parse_where(const std::string& text) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos)
        return parse_host_port("127.0.0.1:" + text);
    return parse_host_port(text);
}

struct Client {
    std::string in;
    OutBuffer out;
    std::chrono::steady_clock::time_point opened;
    bool answered = false;
};

}  // namespace

std::string label_value(const std::string& v) {
    std::string out = "\"";
    for (char c : v) {
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (c == '\\' || c == '"') out += '\\';
        out += c;
    }
    return out + "\"";
}

bool MetricsServer::valid(const std::string& where) {
    return parse_where(where).has_value();
}

int MetricsServer::listen(const std::string& where, std::string& error) {
    const auto w = parse_where(where);
    if (!w) {
        error = "metrics: '" + where + "' is not \"address:port\", \"[v6]:port\" or a port";
        return -1;
    }
    sockaddr_storage ss{};
    socklen_t len;
    if (w->address.is_v4()) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(w->port);
        std::memcpy(&s->sin_addr, w->address.bytes(), 4);
        len = sizeof *s;
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(w->port);
        std::memcpy(&s->sin6_addr, w->address.bytes(), 16);
        len = sizeof *s;
    }
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = "metrics: socket: " + std::string(std::strerror(errno));
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0) {
        error = "metrics: bind " + where + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

MetricsServer::MetricsServer(int listen_fd, std::function<std::string()> render)
    : listen_fd_(listen_fd), render_(std::move(render)) {}

MetricsServer::~MetricsServer() {
    stop();
}

bool MetricsServer::start(std::string& error) {
    stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop_fd_ < 0) {
        error = "metrics: eventfd: " + std::string(std::strerror(errno));
        return false;
    }
    thread_ = std::thread([this] { run(); });
    return true;
}

void MetricsServer::stop() {
    if (thread_.joinable()) {
        std::uint64_t one = 1;
        ssize_t w = ::write(stop_fd_, &one, sizeof one);
        (void)w;
        thread_.join();
    }
    if (stop_fd_ >= 0) ::close(stop_fd_);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    stop_fd_ = listen_fd_ = -1;
}

void MetricsServer::run() {
    EventLoop loop;
    std::map<int, Client> clients;
    auto drop = [&](int fd) {
        loop.remove(fd);
        ::close(fd);
        clients.erase(fd);
    };
    auto on_client = [&](int fd, std::uint32_t events) {
        auto it = clients.find(fd);
        if (it == clients.end()) return;
        Client& c = it->second;
        char buf[4096];
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        // A client may half-close once its request is sent: the answer still goes out.
        if (r < 0 && !(events & EPOLLOUT) && errno != EAGAIN) return drop(fd);
        if (r == 0 && !c.answered) return drop(fd);
        if (r > 0 && !c.answered) {
            c.in.append(buf, static_cast<std::size_t>(r));
            if (c.in.find("\r\n\r\n") != std::string::npos || c.in.size() > kMaxRequest) {
                const bool ok = c.in.starts_with("GET /metrics ") || c.in.starts_with("GET / ");
                const std::string body = ok ? render_() : "not found: try GET /metrics\n";
                c.out.append(
                    std::string(ok ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.0 404 Not Found\r\n") +
                    "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
                c.answered = true;
                c.in.clear();
            }
        }
        if (!c.out.flush(fd) || (c.out.empty() && c.answered)) return drop(fd);
        // Once answered, only room to write matters (a half-closed peer stays readable).
        loop.watch(fd, (c.answered ? 0u : EPOLLIN) | (c.out.empty() ? 0u : EPOLLOUT));
    };
    std::chrono::steady_clock::time_point last_full_log;
    loop.add(listen_fd_, EPOLLIN, [&](std::uint32_t) {
        const int cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) return;
        const auto now = std::chrono::steady_clock::now();
        if (clients.size() >= kMaxClients) {
            ::close(cfd);
            if (now - last_full_log > std::chrono::minutes(1)) {
                last_full_log = now;
                SP_LOG_WARN("metrics: %zu connections open, the most allowed: refusing new ones",
                            clients.size());
            }
            return;
        }
        clients[cfd].opened = now;
        if (!loop.add(cfd, EPOLLIN, [&, cfd](std::uint32_t ev) { on_client(cfd, ev); })) drop(cfd);
    });
    loop.add(stop_fd_, EPOLLIN, [&](std::uint32_t) { loop.stop(); });
    loop.run(250, [&] {
        const auto now = std::chrono::steady_clock::now();
        std::vector<int> stale;
        for (auto& [fd, c] : clients)
            if (now - c.opened > kTotalDeadline ||
                (!c.answered && now - c.opened > kHeaderDeadline))
                stale.push_back(fd);
        for (int fd : stale) drop(fd);
    });
    for (auto& [fd, c] : clients) ::close(fd);
}

}  // namespace signpost::common
