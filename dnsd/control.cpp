#include "dnsd/control.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "common/json.hpp"
#include "common/line_framer.hpp"
#include "common/log.hpp"
#include "common/unix_socket.hpp"
#include "dnsd/redirect.hpp"
#include "dnsd/sockets.hpp"
#include "dnsd/zone_loader.hpp"

namespace signpost::dnsd {

namespace {
// Control requests are short words; metrics requests are one HTTP header block.
constexpr std::size_t kMaxControlLine = 1024;
constexpr std::size_t kMaxHttpRequest = 8192;

struct Client {
    bool http = false;
    common::LineFramer framer{kMaxControlLine};
    std::string in;
    std::string out;
    std::chrono::steady_clock::time_point opened;
    bool close_after_write = false;
};
}  // namespace

ControlServer::ControlServer(ControlOptions opts, common::Snapshot<ServingState>& state,
                             Stats& stats, StateReloader& reloader)
    : opts_(std::move(opts)), state_(state), stats_(stats), reloader_(reloader) {}

ControlServer::~ControlServer() {
    stop();
}

bool ControlServer::start(std::string& error) {
    if (!opts_.socket_path.empty()) {
        unix_fd_ = common::listen_unix(opts_.socket_path, 64, error);
        if (unix_fd_ < 0) return false;
    }
    if (!opts_.metrics_listen.empty()) {
        auto la = parse_listen(opts_.metrics_listen);
        http_fd_ = la ? bind_tcp(*la, error) : -1;
        if (http_fd_ < 0) {
            if (!la) error = "bad metrics_listen " + opts_.metrics_listen;
            return false;
        }
    }
    stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    thread_ = std::thread([this] { run(); });
    return true;
}

void ControlServer::stop() {
    if (stop_fd_ < 0) return;
    std::uint64_t one = 1;
    ssize_t w = ::write(stop_fd_, &one, sizeof one);
    (void)w;
    if (thread_.joinable()) thread_.join();
    if (unix_fd_ >= 0) {
        ::close(unix_fd_);
        ::unlink(opts_.socket_path.c_str());
    }
    if (http_fd_ >= 0) ::close(http_fd_);
    ::close(stop_fd_);
    stop_fd_ = unix_fd_ = http_fd_ = -1;
}

std::string ControlServer::handle(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    const auto st = state_.load();
    if (line == "reload") {
        const std::string err = reloader_.reload();
        if (!err.empty()) {
            std::string out = "{\"ok\":false,\"error\":";
            common::json::append_string(out, err);
            return out + ",\"generation\":" + std::to_string(st->generation) + "}";
        }
        return "{\"ok\":true,\"generation\":" + std::to_string(state_.load()->generation) + "}";
    }
    if (line == "stats") return stats_.json(st->generation);
    if (line.starts_with("explain ")) return explain(line.substr(8));
    if (line == "status") return status();
    if (line == "zones") {
        std::string out = "{\"generation\":" + std::to_string(st->generation) + ",\"zones\":[";
        bool first = true;
        for (const auto& z : st->zones.all()) {
            if (!first) out += ",";
            first = false;
            out += "{\"name\":";
            common::json::append_string(
                out, name_to_text(reinterpret_cast<const std::uint8_t*>(z->origin.data())));
            out += ",\"serial\":" + std::to_string(z->serial) +
                   ",\"names\":" + std::to_string(z->nodes.size()) + ",\"file\":";
            common::json::append_string(out, z->file);
            out += "}";
        }
        return out + "]}";
    }
    std::string out =
        "{\"ok\":false,\"error\":\"unknown command (expected reload, stats or zones)\",\"input\":";
    common::json::append_string(out, line.substr(0, 64));
    return out + "}";
}

std::string ControlServer::status() {
    const auto hs = health_ ? health_->load() : nullptr;
    const auto st = state_.load();
    std::string text;
    char line[512];
    std::snprintf(line, sizeof line, "%-12s %-28s %-6s %-6s %-10s %-9s %s\n", "node", "address",
                  "admin", "health", "latency", "since", "last error");
    text += line;
    for (std::size_t i = 0; i < st->edges->nodes.size(); ++i) {
        const auto& n = st->edges->nodes[i];
        for (const auto* addrs : {&n.v4, &n.v6}) {
            for (const auto& a : *addrs) {
                const TargetHealth* h = nullptr;
                if (hs)
                    for (const auto& t : hs->targets)
                        if (t.node == n.name && t.address == a) h = &t;
                std::string health = n.check.type == CheckConfig::Type::kNone ? "none"
                                     : !h || !h->checked                      ? "pending"
                                     : h->up                                  ? "up"
                                                                              : "down";
                char since[32] = "-";
                if (h && h->since) {
                    std::time_t t = h->since;
                    std::tm tm;
                    gmtime_r(&t, &tm);
                    std::strftime(since, sizeof since, "%H:%M:%SZ", &tm);
                }
                char lat[32] = "-";
                if (h && h->checked) std::snprintf(lat, sizeof lat, "%.1f ms", h->latency_ms);
                std::snprintf(line, sizeof line, "%-12s %-28s %-6s %-6s %-10s %-9s %s\n",
                              n.name.c_str(), a.to_string().c_str(), n.admin_up ? "up" : "down",
                              health.c_str(), lat, since,
                              h && !h->reason.empty() ? h->reason.c_str() : "-");
                text += line;
            }
        }
    }
    if (hs && !hs->warm) text += "(health warm-up in progress: every admin-up node counts as up)\n";
    std::string out = "{\"ok\":true,\"text\":";
    common::json::append_string(out, text);
    return out + "}";
}

std::string ControlServer::explain(std::string_view args) {
    auto fail = [](const std::string& why) {
        std::string out = "{\"ok\":false,\"error\":";
        common::json::append_string(out, why);
        return out + "}";
    };
    const auto sp = args.find(' ');
    if (sp == std::string_view::npos) return fail("usage: explain NAME ADDRESS[/PREFIX]");
    std::string name(args.substr(0, sp));
    std::string who(args.substr(sp + 1));
    while (!who.empty() && who.back() == ' ') who.pop_back();
    const auto slash = who.find('/');
    const auto prefix = common::Prefix::parse(who);
    if (!prefix) return fail("'" + who + "' is not an address or prefix");
    const auto st = state_.load();
    // Find the name as a query would: through the zones to its dynamic node.
    NameBuf nb;
    const std::string wire = text_to_wire(name);
    if (wire.empty() || !nb.set(reinterpret_cast<const std::uint8_t*>(wire.data())))
        return fail("'" + name + "' is not a domain name");
    const Zone* zone = st->zones.find(nb.ref);
    const LookupResult lr = zone ? lookup(*zone, nb.ref, false) : LookupResult{};
    const auto* redirect = lr.kind == LookupKind::kAnswer
                               ? dynamic_cast<const RedirectAnswer*>(lr.node->dynamic.get())
                               : nullptr;
    if (!redirect) return fail(name + " is not a redirect name in any served zone");
    if (!geo_) geo_ = std::make_unique<GeoSource>(*own_stats_);
    if (geo_generation_ != st->generation) {
        geo_->configure(st->edges->geoip);
        geo_generation_ = st->generation;
    }
    ClientKey key;
    key.address = prefix->address();
    key.source_len = slash == std::string::npos ? prefix->address().bits() : prefix->length();
    key.from_ecs = slash != std::string::npos;
    const common::GeoAnswer* geo = nullptr;
    if (redirect->map().needs_geo() && geo_->enabled()) {
        geo_->prefetch(std::span(&key.address, 1));
        geo = geo_->find(key.address);
    }
    std::string text;
    auto add = [&](const std::string& s) { text += s + "\n"; };
    const auto& rc = redirect->config();
    add("redirect " + rc.name + " -> map " + rc.map + " (ttl " + std::to_string(rc.ttl) +
        ", answers " + std::to_string(rc.answers) + ")");
    add(std::string("client ") + (key.from_ecs ? "ECS subnet " : "source address ") +
        prefix->to_string());
    if (!redirect->map().needs_geo()) {
        add("geo: not needed (the map has only CIDR and default entries)");
    } else if (!geo) {
        add(std::string("geo: unavailable (") +
            (geo_->enabled()
                 ? (geo_->circuit_open() ? "circuit open" : "geoipd did not answer in time")
                 : "no [geoip] socket configured") +
            "): fallback pool");
    } else {
        add("geo: prefix " + geo->prefix.to_string() + ", country " +
            (geo->country.empty() ? "-" : geo->country) + ", continent " +
            (geo->continent.empty() ? "-" : geo->continent) + ", AS" + std::to_string(geo->asn) +
            (geo->as_org.empty() ? "" : " " + geo->as_org) + " (geoipd generation " +
            std::to_string(geo->generation) + ")");
    }
    const auto hs = health_ ? health_->load() : nullptr;
    static const HealthView kAllUp;
    const HealthView& hv = hs && hs->edges == st->edges.get() ? hs->view : kAllUp;
    for (auto family : {common::Family::kV4, common::Family::kV6}) {
        const Decision d = decide(*st->edges, rc, redirect->map(), family, key, geo, hv, 0, true);
        add(std::string(family == common::Family::kV4 ? "A" : "AAAA") + ": tier " +
            tier_name(d.tier) + ", entry " + (d.entry.empty() ? "-" : d.entry));
        for (const auto& t : d.trail) add("  candidate " + t);
        std::string chosen;
        for (auto n : d.nodes) chosen += (chosen.empty() ? "" : ", ") + st->edges->nodes[n].name;
        add("  chosen: " + (chosen.empty() ? std::string("none (NODATA)") : chosen) +
            (d.hashed ? " (tie spread by hashing the stickiness subnet)" : ""));
        add("  ttl " + std::to_string(d.ttl) + ", ECS scope /" +
            std::to_string(key.from_ecs ? std::min(d.scope, key.source_len) : 0));
    }
    std::string out = "{\"ok\":true,\"text\":";
    common::json::append_string(out, text);
    return out + "}";
}

void ControlServer::run() {
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    for (int fd : {unix_fd_, http_fd_, stop_fd_}) {
        if (fd < 0) continue;
        ev.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    std::map<int, Client> clients;
    auto drop = [&](int fd) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        clients.erase(fd);
    };
    auto flush = [&](int fd, Client& c) {
        while (!c.out.empty()) {
            ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n <= 0) break;
            c.out.erase(0, static_cast<std::size_t>(n));
        }
        if (c.out.empty() && c.close_after_write) return drop(fd);
        epoll_event e{};
        e.events = EPOLLIN | (c.out.empty() ? 0u : EPOLLOUT);
        e.data.fd = fd;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    };
    bool running = true;
    while (running) {
        epoll_event events[16];
        const int n = ::epoll_wait(ep, events, 16, 1000);
        const auto now = std::chrono::steady_clock::now();
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == stop_fd_) {
                running = false;
            } else if (fd == unix_fd_ || fd == http_fd_) {
                int cfd = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) continue;
                if (clients.size() >= 64) {  // a control plane, not a service: few clients
                    ::close(cfd);
                    continue;
                }
                Client& c = clients[cfd];
                c.http = fd == http_fd_;
                c.opened = now;
                ev.events = EPOLLIN;
                ev.data.fd = cfd;
                ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
            } else {
                auto it = clients.find(fd);
                if (it == clients.end()) continue;
                Client& c = it->second;
                char buf[4096];
                ssize_t r = ::recv(fd, buf, sizeof buf, 0);
                if (r <= 0 && !(events[i].events & EPOLLOUT)) {
                    drop(fd);
                    continue;
                }
                if (r > 0 && c.http) {
                    c.in.append(buf, static_cast<std::size_t>(r));
                    if (c.in.find("\r\n\r\n") != std::string::npos ||
                        c.in.size() > kMaxHttpRequest) {
                        const bool ok =
                            c.in.starts_with("GET /metrics ") || c.in.starts_with("GET / ");
                        const std::string body =
                            ok ? stats_.prometheus(state_.load()->generation, reloader_.reloads(),
                                                   reloader_.failures())
                               : "not found: try GET /metrics\n";
                        c.out =
                            std::string(ok ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.0 404 Not Found\r\n") +
                            "Content-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
                        c.close_after_write = true;
                    }
                } else if (r > 0) {
                    c.framer.feed(
                        std::string_view(buf, static_cast<std::size_t>(r)),
                        [&](std::string_view line) { c.out += handle(line) + "\n"; },
                        [&](std::string_view) {
                            c.out += "{\"ok\":false,\"error\":\"request too long\"}\n";
                        });
                }
                flush(fd, c);
            }
        }
        // Nobody holds a control or metrics connection for more than a minute.
        std::vector<int> stale;
        for (auto& [fd, c] : clients)
            if (now - c.opened > std::chrono::seconds(60)) stale.push_back(fd);
        for (int fd : stale) drop(fd);
    }
    for (auto& [fd, c] : clients) ::close(fd);
    ::close(ep);
}

}  // namespace signpost::dnsd
