#include "dnsd/server/control.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <thread>

#include "common/event_loop.hpp"
#include "common/json.hpp"
#include "common/line_framer.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "common/unix_socket.hpp"
#include "dnsd/redirect/redirect.hpp"
#include "dnsd/server/sockets.hpp"
#include "dnsd/zone/zone_loader.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {
constexpr std::size_t kMaxControlLine = 1024;
// The metrics port (common/metrics_server) has its own thread and limits, so
// that connections to it (it may be reachable from the network) can never
// lock an operator out of the control socket.
constexpr std::size_t kMaxControlClients = 16;  // operators and their tools, on the host
// A control connection without a request for this long is closed.
constexpr auto kControlIdle = std::chrono::seconds(60);

struct Client {
    common::LineFramer framer{kMaxControlLine};
    common::OutBuffer out;
    std::chrono::steady_clock::time_point last_request;  // the last complete line
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
        unix_fd_ = common::listen_unix(opts_.socket_path, 64, error, &opts_.socket_access);
        if (unix_fd_ < 0) return false;
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
    ::close(stop_fd_);
    stop_fd_ = unix_fd_ = -1;
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
    if (line == "top" || line.starts_with("top ")) {
        std::size_t k = 10;
        if (line.size() > 4) {
            const std::string_view arg = line.substr(4);
            k = 0;
            for (char c : arg) k = (c >= '0' && c <= '9' && k < 100000) ? k * 10 + (c - '0') : 0;
            if (k == 0 || k > 1000) {
                std::string out = "{\"ok\":false,\"error\":\"top N: N is 1..1000\",\"input\":";
                common::json::append_string(out, arg.substr(0, 16));
                return out + "}";
            }
        }
        if (!top_) return "{\"ok\":false,\"error\":\"top is not kept by this server\"}";
        return top_->json(k);
    }
    if (line == "node" || line.starts_with("node ")) return node(line.substr(4));
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
            if (!z->notify_from.empty())  // a secondary: served once transferred, until expired
                out += std::string(",\"secondary\":true,\"available\":") +
                       (z->unavailable ? "false" : "true");
            out += "}";
        }
        return out + "]}";
    }
    std::string out =
        "{\"ok\":false,\"error\":\"unknown command (expected reload, stats, zones, status, node, "
        "explain or top)\",\"input\":";
    common::json::append_string(out, line.substr(0, 64));
    return out + "}";
}

namespace {

// {"ok":false,"error":"why"}
std::string fail(const std::string& why) {
    std::string out = "{\"ok\":false,\"error\":";
    common::json::append_string(out, why);
    return out + "}";
}

std::string admin_text(const EdgeNode& n, const NodeAdmin* a) {
    if (a) switch (a->override.mode) {
            case AdminMode::kUp:
                return "forced up";
            case AdminMode::kDown:
                return "forced down";
            case AdminMode::kDrain: {
                char buf[32];
                std::snprintf(buf, sizeof buf, "drain %.0f%%", a->keep * 100.0);
                return buf;
            }
            case AdminMode::kAuto:
                break;
        }
    return n.admin_up ? "auto" : "down (config)";
}

std::string clock_text(std::int64_t unix_s) {
    char out[32] = "-";
    if (unix_s <= 0) return out;
    std::time_t t = unix_s;
    std::tm tm;
    gmtime_r(&t, &tm);
    std::strftime(out, sizeof out, "%H:%M:%SZ", &tm);
    return out;
}

}  // namespace

std::string ControlServer::status() {
    const auto hs = health_ ? health_->load() : nullptr;
    const auto st = state_.load();
    // The health snapshot describes the node set it was computed for; right
    // after a reload it may still be the previous one for a moment.
    const bool same = hs && hs->edges.get() == st->edges.get();
    std::string text, nodes;
    char line[640];
#define SP_STATUS_FMT "%-12s %-26s %-14s %-8s %-8s %-10s %-9s %s\n"
    std::snprintf(line, sizeof line, SP_STATUS_FMT, "node", "address", "admin", "health", "serving",
                  "latency", "since", "reason");
    text += line;
    std::size_t next_target = 0;
    for (std::size_t i = 0; i < st->edges->nodes.size(); ++i) {
        const auto& n = st->edges->nodes[i];
        const NodeAdmin* a = same ? &hs->admin[i] : nullptr;
        for (const auto* addrs : {&n.v4, &n.v6}) {
            for (const auto& addr : *addrs) {
                // Targets are in node and address order: the next one is
                // this address's (a search only if that ever changes).
                const TargetHealth* h = nullptr;
                if (same && next_target < hs->targets.size() &&
                    hs->targets[next_target].node == n.name &&
                    hs->targets[next_target].address == addr) {
                    h = &hs->targets[next_target++];
                } else if (same) {
                    for (const auto& t : hs->targets)
                        if (t.node == n.name && t.address == addr) h = &t;
                }
                const std::string health = n.check.type == CheckConfig::Type::kNone ? "none"
                                           : !h || !h->checked                      ? "pending"
                                           : h->up                                  ? "up"
                                                                                    : "down";
                std::string serving = "?";
                if (same) {
                    const auto& v = addr.is_v4() ? hs->view.up_v4 : hs->view.up_v6;
                    const double keep = i < hs->view.keep.size() ? hs->view.keep[i] : 1.0;
                    char pct[16];
                    std::snprintf(pct, sizeof pct, "%.0f%%", keep * 100.0);
                    serving = !v[i] || keep <= 0 ? "no" : keep < 1 ? pct : "yes";
                }
                std::string reason;
                if (a && !a->external.empty()) reason = "external: " + a->external;
                if (h && !h->external.empty()) reason = "external: " + h->external;
                if (reason.empty() && h && !h->reason.empty()) reason = h->reason;
                char lat[32] = "-";
                if (h && h->checked) std::snprintf(lat, sizeof lat, "%.1f ms", h->latency_ms);
                const std::string admin = admin_text(n, a);
                const std::string since = clock_text(h ? h->since : 0);
                std::snprintf(line, sizeof line, SP_STATUS_FMT, n.name.c_str(),
                              addr.to_string().c_str(), admin.c_str(), health.c_str(),
                              serving.c_str(), lat, since.c_str(),
                              reason.empty() ? "-" : reason.c_str());
                text += line;
                nodes += nodes.empty() ? "{" : ",{";
                nodes += "\"node\":";
                common::json::append_string(nodes, n.name);
                nodes += ",\"address\":\"" + addr.to_string() + "\",\"admin\":";
                common::json::append_string(nodes, admin);
                nodes += ",\"health\":\"" + health + "\",\"serving\":\"" + serving + "\"";
                if (h && h->checked) {
                    std::snprintf(lat, sizeof lat, "%.3f", h->latency_ms);
                    nodes += ",\"latency_ms\":" + std::string(lat) +
                             ",\"since\":" + std::to_string(h->since);
                }
                nodes += ",\"reason\":";
                common::json::append_string(nodes, reason);
                nodes += "}";
            }
        }
    }
#undef SP_STATUS_FMT
    if (hs && !hs->warm) text += "(health warm-up in progress: every admin-up node counts as up)\n";
    if (same && !hs->external_status.empty())
        text += "external state file " + st->edges->health.external_file + ": " +
                hs->external_status + "\n";
    std::string out = "{\"ok\":true,\"warm\":";
    out += hs && hs->warm ? "true" : "false";
    out += ",\"nodes\":[" + nodes + "],\"text\":";
    common::json::append_string(out, text);
    return out + "}";
}

std::string ControlServer::node(std::string_view args) {
    std::vector<std::string> w;
    for (std::size_t i = 0; i < args.size();) {
        while (i < args.size() && args[i] == ' ') ++i;
        std::size_t j = i;
        while (j < args.size() && args[j] != ' ') ++j;
        if (j > i) w.emplace_back(args.substr(i, j - i));
        i = j;
    }
    const char* usage = "usage: node NAME [up|down|drain [SECONDS]|auto]";
    if (w.empty() || w.size() > 3) return fail(usage);
    if (!checker_) return fail("health checking is not running");
    auto show = [&](const std::string& name) {
        const auto st = state_.load();
        const auto hs = health_->load();
        auto it = st->edges->node_index.find(name);
        if (it == st->edges->node_index.end()) return fail("no node named \"" + name + "\"");
        const bool same = hs && hs->edges.get() == st->edges.get();
        const NodeAdmin* a = same ? &hs->admin[it->second] : nullptr;
        std::string out = "{\"ok\":true,\"node\":";
        common::json::append_string(out, name);
        out += ",\"admin\":";
        common::json::append_string(out, admin_text(st->edges->nodes[it->second], a));
        out += ",\"mode\":\"";
        out += a ? admin_mode_name(a->override.mode) : "auto";
        out += "\"";
        if (a && a->override.mode != AdminMode::kAuto)
            out += ",\"since_ms\":" + std::to_string(a->override.since_ms);
        if (a && a->override.mode == AdminMode::kDrain) {
            char keep[32];
            std::snprintf(keep, sizeof keep, "%.4f", a->keep);
            out +=
                ",\"drain_seconds\":" + std::to_string(a->override.drain_s) + ",\"keep\":" + keep;
        }
        return out;
    };
    if (w.size() == 1) return show(w[0]) + "}";
    const auto mode = parse_admin_mode(w[1]);
    if (!mode) return fail("'" + w[1] + "' is not up, down, drain or auto; " + usage);
    std::optional<std::uint32_t> drain_s;
    if (w.size() == 3) {
        std::uint32_t v = 0;
        auto [p, ec] = std::from_chars(w[2].data(), w[2].data() + w[2].size(), v);
        if (*mode != AdminMode::kDrain || ec != std::errc() || p != w[2].data() + w[2].size() ||
            v > 7 * 86400)
            return fail("'" + w[2] + "': only drain takes a ramp length, in seconds (0-604800)");
        drain_s = v;
    }
    const AdminResult r = checker_->set_admin(w[0], *mode, drain_s);
    if (!r.ok) return fail(r.error);
    // Answer once queries see it: wait (briefly) for the checker's publish.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
        const auto hs = health_->load();
        if (hs && hs->admin_generation >= r.generation) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::string out = show(w[0]);
    out += std::string(",\"persisted\":") + (r.persisted ? "true" : "false");
    if (!r.persisted)
        out +=
            ",\"warning\":\"not persisted: set [health] state_file to keep admin state "
            "across restarts\"";
    return out + "}";
}

std::string ControlServer::node_metrics() const {
    const auto hs = health_ ? health_->load() : nullptr;
    const auto st = state_.load();
    if (!hs || hs->edges.get() != st->edges.get()) return {};
    std::string out =
        "# HELP signpost_node_serving Whether redirects may answer with the node (1), per "
        "family; a draining node shows the fraction of subnets it keeps.\n"
        "# TYPE signpost_node_serving gauge\n";
    char buf[64];
    for (std::size_t i = 0; i < st->edges->nodes.size(); ++i) {
        const auto& n = st->edges->nodes[i];
        const double keep = i < hs->view.keep.size() ? hs->view.keep[i] : 1.0;
        for (int f = 0; f < 2; ++f) {
            if ((f == 0 ? n.v4 : n.v6).empty()) continue;
            const bool up = (f == 0 ? hs->view.up_v4 : hs->view.up_v6)[i];
            std::snprintf(buf, sizeof buf, "%g", up ? keep : 0.0);
            out += "signpost_node_serving{node=" + common::label_value(n.name) + ",family=\"" +
                   (f == 0 ? "ipv4" : "ipv6") + "\"} " + buf + "\n";
        }
    }
    out +=
        "# HELP signpost_node_check_up Last health check state per node address (1 up, 0 down).\n"
        "# TYPE signpost_node_check_up gauge\n"
        "# HELP signpost_node_check_latency_seconds Duration of the last health check.\n"
        "# TYPE signpost_node_check_latency_seconds gauge\n";
    for (const auto& t : hs->targets) {
        if (!t.checked) continue;
        const std::string labels =
            "{node=" + common::label_value(t.node) + ",address=\"" + t.address.to_string() + "\"}";
        out += "signpost_node_check_up" + labels + (t.up ? " 1\n" : " 0\n");
        std::snprintf(buf, sizeof buf, "%.6f", t.latency_ms / 1000.0);
        out += "signpost_node_check_latency_seconds" + labels + " " + buf + "\n";
    }
    return out;
}

std::string ControlServer::explain(std::string_view args) {
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
    std::vector<std::string> via;  // CNAMEs followed to it, as an answer follows them
    const auto* redirect =
        dynamic_cast<const RedirectAnswer*>(dynamic_answer_for(st->zones, nb.ref, &via));
    if (!redirect)
        return fail(name + (via.empty() ? "" : " (through CNAMEs)") +
                    " is not a redirect name in any served zone");
    ClientKey key;
    key.address = slash == std::string::npos ? prefix->address().unmapped() : prefix->address();
    key.source_len = slash == std::string::npos ? prefix->address().bits() : prefix->length();
    key.from_ecs = slash != std::string::npos;
    const Decisions* decisions = st->decisions.get();
    const CompiledMap* compiled = decisions ? &decisions->maps[redirect->map_index()] : nullptr;
    const common::GeoTable* table = decisions ? decisions->table.get() : nullptr;
    std::string text;
    auto add = [&](const std::string& s) { text += s + "\n"; };
    const auto& rc = redirect->config();
    for (const auto& v : via) add(v);
    add("redirect " + rc.name + " -> map " + rc.map + " (ttl " + std::to_string(rc.ttl) +
        ", answers " + std::to_string(rc.answers) + ")");
    add(std::string("client ") + (key.from_ecs ? "ECS subnet " : "source address ") +
        prefix->to_string());
    if (!redirect->map().needs_geo()) {
        add("geo: not needed (the map has only CIDR and default entries)");
    } else if (!table) {
        add(std::string("geo: no table (") +
            (st->edges->geoip.socket.empty() ? "no [geoip] socket configured"
                                             : "none received from geoipd yet") +
            "): fallback pool");
    } else {
        const common::GeoFactsView geo = table->lookup(key.address);
        add("geo: range " + geo.prefix.to_string() + ", country " +
            (geo.country.empty() ? "-" : std::string(geo.country)) + ", continent " +
            (geo.continent.empty() ? "-" : std::string(geo.continent)) + ", AS" +
            std::to_string(geo.asn) + (geo.as_org.empty() ? "" : " " + std::string(geo.as_org)) +
            " (table generation " + std::to_string(geo.generation) + ")");
        const GeoMap& gm = redirect->map();
        if (gm.has_nearest) {
            char buf[160];
            common::GeoTableFact f{};
            f.flags = geo.has_location ? common::GeoTableFact::kHasLocation : 0;
            f.latitude = geo.latitude;
            f.longitude = geo.longitude;
            f.accuracy_radius = geo.accuracy_radius;
            // The compile's own rule.
            const LocationUse use = location_use(f, gm.nearest.max_accuracy_km);
            if (use != LocationUse::kUsable) {
                if (use == LocationUse::kVague)
                    std::snprintf(buf, sizeof buf,
                                  "the location (%.4f, %.4f) is good to %u km only, over "
                                  "max_accuracy_km %.0f",
                                  geo.latitude, geo.longitude, geo.accuracy_radius,
                                  gm.nearest.max_accuracy_km);
                add(std::string("nearest: ") +
                    (use == LocationUse::kVague  ? buf
                     : use == LocationUse::kZero ? "coordinates 0, 0 count as unknown"
                                                 : "the client has no coordinates") +
                    ": the tier is passed");
            } else {
                std::snprintf(buf, sizeof buf, "nearest: client at %.4f, %.4f; margin %.0f km",
                              geo.latitude, geo.longitude, gm.nearest.margin_km);
                std::string line = buf;
                if (geo.accuracy_radius != 0) {
                    std::snprintf(buf, sizeof buf, " (located to %u km)", geo.accuracy_radius);
                    line.insert(line.find(';'), buf);
                }
                if (gm.nearest.radius_km > 0) {
                    std::snprintf(buf, sizeof buf, ", radius %.0f km", gm.nearest.radius_km);
                    line += buf;
                }
                add(line);
                // The entry the compile made for this place (the candidates, in
                // bands), then the rest of the pool and why it is not there.
                const MapEntry e = nearest_entry(gm.nearest, geo.latitude, geo.longitude);
                std::vector<std::pair<double, const NearestConfig::Node*>> by;
                for (const auto& n : gm.nearest.nodes)
                    by.emplace_back(
                        distance_km(geo.latitude, geo.longitude, n.latitude, n.longitude), &n);
                std::sort(by.begin(), by.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; });
                for (const auto& [km, n] : by) {
                    const std::uint32_t index = n->node;  // (clang 14 cannot capture bindings)
                    const auto it =
                        std::find_if(e.members.begin(), e.members.end(),
                                     [&](const MapEntry::Member& m) { return m.node == index; });
                    const char* why = it != e.members.end() ? ""
                                      : gm.nearest.radius_km > 0 && km > gm.nearest.radius_km
                                          ? " (beyond the radius)"
                                          : " (not among the nearest candidates)";
                    std::snprintf(buf, sizeof buf, "  %s %.0f km%s%s",
                                  st->edges->nodes[n->node].name.c_str(), km,
                                  it != e.members.end() && it != e.members.begin() &&
                                          it->weight == e.members.front().weight
                                      ? " (within the margin of the nearest)"
                                      : "",
                                  why);
                    add(buf);
                }
            }
        }
    }
    const auto hs = health_ ? health_->load() : nullptr;
    static const HealthView kAllUp;
    const HealthState* h = health_for_.get(hs, st->edges);
    const HealthView& hv = h ? h->view : kAllUp;
    for (auto family : {common::Family::kV4, common::Family::kV6}) {
        const Decision d = decide(*st->edges, rc, compiled, family, key, hv, 0);
        const Explanation why = dnsd::explain(d, *st->edges, rc, family, key, hv);
        add(std::string(family == common::Family::kV4 ? "A" : "AAAA") + ": tier " +
            tier_name(d.tier) + ", entry " + (why.entry.empty() ? "-" : why.entry));
        for (const auto& t : why.candidates) add("  candidate " + t);
        std::string chosen;
        for (auto n : d.nodes) chosen += (chosen.empty() ? "" : ", ") + st->edges->nodes[n].name;
        add("  chosen: " + (chosen.empty() ? std::string("none (NODATA)") : chosen) +
            (d.hashed ? " (tie spread by hashing the stickiness subnet)" : ""));
        add("  ttl " + std::to_string(d.ttl) + ", ECS scope /" +
            std::to_string(key.from_ecs ? d.scope : 0));
    }
    std::string out = "{\"ok\":true,\"text\":";
    common::json::append_string(out, text);
    return out + "}";
}

void ControlServer::run() {
    common::EventLoop loop;
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
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0 && !(events & EPOLLOUT)) return drop(fd);
        if (r > 0)
            c.framer.feed(
                std::string_view(buf, static_cast<std::size_t>(r)),
                [&](std::string_view line) {
                    c.last_request = std::chrono::steady_clock::now();
                    c.out.append(handle(line) + "\n");
                },
                [&](std::string_view) {
                    c.out.append("{\"ok\":false,\"error\":\"request too long\"}\n");
                });
        if (!c.out.flush(fd)) return drop(fd);
        loop.watch(fd, EPOLLIN | (c.out.empty() ? 0u : EPOLLOUT));
    };
    std::chrono::steady_clock::time_point last_full_log;
    auto on_listen = [&] {
        int cfd = ::accept4(unix_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) return;
        const auto now = std::chrono::steady_clock::now();
        if (clients.size() >= kMaxControlClients) {
            ::close(cfd);
            if (now - last_full_log > std::chrono::minutes(1)) {
                last_full_log = now;
                SP_LOG_WARN(
                    "control socket: %zu connections open, the most allowed: refusing "
                    "new ones",
                    clients.size());
            }
            return;
        }
        clients[cfd].last_request = now;
        if (!loop.add(cfd, EPOLLIN, [&, cfd](std::uint32_t ev) { on_client(cfd, ev); })) drop(cfd);
    };
    if (unix_fd_ >= 0) loop.add(unix_fd_, EPOLLIN, [&](std::uint32_t) { on_listen(); });
    loop.add(stop_fd_, EPOLLIN, [&](std::uint32_t) { loop.stop(); });
    loop.run(250, [&] {
        const auto now = std::chrono::steady_clock::now();
        std::vector<int> stale;
        for (auto& [fd, c] : clients)
            if (now - c.last_request > kControlIdle) stale.push_back(fd);
        for (int fd : stale) drop(fd);
    });
    for (auto& [fd, c] : clients) ::close(fd);
}

}  // namespace server
}  // namespace signpost::dnsd
