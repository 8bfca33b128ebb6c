#include "redirectd/config.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <set>

#include "common/metrics_server.hpp"
#include "common/privileges.hpp"
#include "dnsd/config/schema.hpp"
#include "dnsd/redirect/nodes_config.hpp"

namespace signpost::redirectd {

namespace config = dnsd::config;
using config::Key;
using config::line_of;
using config::Problem;
using config::Source;

namespace {

std::optional<common::HostPort> parse_listen(const std::string& t) {
    return common::parse_host_port(t);
}

std::string listen_text(const common::HostPort& h) {
    return (h.address.is_v4() ? h.address.to_string() : "[" + h.address.to_string() + "]") + ":" +
           std::to_string(h.port);
}

const std::vector<Key<HttpConfig>>& http_keys() {
    static const std::vector<Key<HttpConfig>> keys = {
        config::list<HttpConfig, common::HostPort>(
            "listen", "\"ipv4:port\" or \"[ipv6]:port\"",
            "Addresses and ports redirectd answers HTTP on", true,
            [](auto& c) -> auto& { return c.listen; }, parse_listen, listen_text, true),
        config::list<HttpConfig, common::HostPort>(
            "tls_listen", "\"ipv4:port\" or \"[ipv6]:port\"",
            "Addresses and ports redirectd answers HTTPS on (TLS 1.2 and 1.3, OpenSSL), with "
            "tls_certificate and tls_key; empty: no TLS",
            false, [](auto& c) -> auto& { return c.tls_listen; }, parse_listen, listen_text, true),
        config::string<HttpConfig>(
            "tls_certificate", [](auto& c) -> auto& { return c.tls_certificate; },
            "The certificate chain for tls_listen, PEM (a path, from the config file's "
            "directory when relative); re-read on every reload (as the user redirectd runs "
            "as), so a renewed certificate is taken with SIGHUP; one that does not load is "
            "logged and the previous one serves on"),
        config::string<HttpConfig>(
            "tls_key", [](auto& c) -> auto& { return c.tls_key; },
            "Its private key, PEM, unencrypted (readable by the user redirectd runs as, to be "
            "re-read on reload)"),
        config::integer<HttpConfig>(
            "threads", [](auto& c) -> auto& { return c.threads; }, 0, 256,
            "Threads serving connections (0: one per core)", true),
        config::integer<HttpConfig>(
            "status", [](auto& c) -> auto& { return c.status; }, 301, 308,
            "The redirect status: 302 (the default), 307, 301 or 308"),
        config::list<HttpConfig, common::Prefix>(
            "trusted_proxies", "addresses or prefixes",
            "Peers whose X-Forwarded-For / Forwarded header names the client (the address "
            "nearest to them that is not itself trusted); from anyone else the headers are "
            "ignored, so a client cannot pick its own node",
            false, [](auto& c) -> auto& { return c.trusted_proxies; },
            [](const std::string& t) { return common::Prefix::parse(t); },
            [](const common::Prefix& p) { return p.to_string(); }),
        config::choice<HttpConfig>(
            "client_header", [](auto& c) -> auto& { return c.client_header; },
            std::vector<std::pair<const char*, std::string>>{{"X-Forwarded-For", "X-Forwarded-For"},
                                                             {"Forwarded", "Forwarded"}},
            "The one header a trusted proxy names the client in (every line of it, joined); the "
            "other is ignored, so a client cannot pass its own through a proxy that does not "
            "rewrite it"),
        config::integer<HttpConfig>(
            "max_connections", [](auto& c) -> auto& { return c.max_connections; }, 1, 1000000,
            "Open connections at most; more are closed at once", true),
        config::integer<HttpConfig>(
            "max_per_client", [](auto& c) -> auto& { return c.max_per_client; }, 1, 1000000,
            "Open connections per client address at most", true),
        config::integer<HttpConfig>(
            "header_timeout_ms", [](auto& c) -> auto& { return c.header_timeout_ms; }, 100, 600000,
            "A request's header must be complete this long after its first byte (a client "
            "that trickles is closed)",
            true),
        config::integer<HttpConfig>(
            "idle_timeout_ms", [](auto& c) -> auto& { return c.idle_timeout_ms; }, 100, 3600000,
            "A connection with no request for this long is closed (the first request included)",
            true),
        config::integer<HttpConfig>(
            "max_header_bytes", [](auto& c) -> auto& { return c.max_header_bytes; }, 1024, 1048576,
            "A request line and header larger than this is answered 431", true),
        config::string<HttpConfig>(
            "metrics_listen", [](auto& c) -> auto& { return c.metrics_listen; },
            "Prometheus metrics over HTTP (\"127.0.0.1:9155\", or a port alone; empty: none)",
            true),
        config::string<HttpConfig>(
            "user", [](auto& c) -> auto& { return c.user; },
            "Started as root: the user to run as once the sockets are bound (empty: refuse to "
            "run as root without --allow-root)",
            true),
        config::string<HttpConfig>(
            "group", [](auto& c) -> auto& { return c.group; },
            "The group to run as with `user` (empty: the user's own)", true),
        config::choice<HttpConfig>(
            "log_level", [](auto& c) -> auto& { return c.log_level; },
            std::vector<std::pair<const char*, std::string>>{
                {"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}},
            "Lines below this level are not logged"),
    };
    return keys;
}

const std::vector<Key<HostRoute>>& host_keys() {
    static const std::vector<Key<HostRoute>> keys = {
        config::string<HostRoute>(
            "host", [](auto& h) -> auto& { return h.host; },
            "The Host the request names (\"dl.cdn.example.net\"; required)"),
        config::string<HostRoute>(
            "redirect", [](auto& h) -> auto& { return h.redirect; },
            "The [[redirects]] entry whose decision picks the node (its name; required)"),
        config::integer<HostRoute>(
            "status", [](auto& h) -> auto& { return h.status; }, 301, 308,
            "This host's redirect status (default: [http] status)"),
    };
    return keys;
}

// Sections dnsd reads from the same file (checked by dnsd, not here).
const char* const kDnsdSections[] = {"server", "zones", "rrl", "keys"};
const char* const kShared[] = {"nodes", "maps", "redirects", "geoip", "health", "http"};

// Every node a redirect can answer with: its map's entries and its fallback.
std::set<std::uint32_t> nodes_of(const dnsd::EdgeSet& e, const dnsd::RedirectConfig& r) {
    std::set<std::uint32_t> out;
    for (const auto& x : r.fallback.members) out.insert(x.node);
    if (auto it = e.maps.find(r.map); it != e.maps.end())
        for (const std::uint32_t n : it->second.node_indexes()) out.insert(n);
    return out;
}

}  // namespace

const HostRoute* HttpConfig::route(std::string_view host) const {
    for (const auto& h : hosts)
        if (h.host == host) return &h;
    return nullptr;
}

std::vector<std::string> restart_only_changes(const HttpConfig& a, const HttpConfig& b) {
    return config::restart_changes<HttpConfig>(http_keys(), a, b);
}

std::string http_reference() {
    const HttpConfig c;
    const HostRoute h;
    return config::reference<HttpConfig>(
               "[http]",
               "redirectd, the HTTP redirector: read from the same file as dnsd (which ignores "
               "this section), with the same nodes, maps, redirects, [geoip] and [health].",
               http_keys(), c, config::Format::markdown) +
           config::reference<HostRoute>("[[http.hosts]]",
                                        "One table per host name answered with redirects.",
                                        host_keys(), h, config::Format::markdown);
}

std::optional<HttpConfig> load_http_config(const std::string& path, std::string& error) {
    HttpConfig c;
    c.path = path;
    toml::table root;
    try {
        root = dnsd::config::parse_file(path);
    } catch (const dnsd::config::Problem& p) {
        error = p.text();
        return std::nullopt;
    }
    auto edges = dnsd::load_edges(root, path, error);
    if (!edges) return std::nullopt;
    c.edges = std::move(*edges);
    const Source src{path};
    try {
        for (const auto& [k, v] : root) {
            bool known = false;
            for (const char* t : kDnsdSections) known = known || k.str() == t;
            for (const char* t : kShared) known = known || k.str() == t;
            if (!known)
                src.fail(v, "unknown key '" + std::string(k.str()) +
                                "' in the top level (expected dnsd's sections and [http])");
        }
        const toml::node* hn = root.get("http");
        if (!hn || !hn->as_table()) src.fail(hn ? line_of(*hn) : 0, "no [http] section");
        const toml::table& ht = *hn->as_table();
        config::read_table<HttpConfig>(ht, http_keys(), c, src, "[http]", {"hosts"});
        if (c.status != 301 && c.status != 302 && c.status != 307 && c.status != 308)
            src.fail(*ht.get("status"),
                     "status = " + std::to_string(c.status) + ": expected 301, 302, 307 or 308");
        if (!c.metrics_listen.empty() && !common::MetricsServer::valid(c.metrics_listen))
            src.fail(*ht.get("metrics_listen"),
                     "metrics_listen: '" + c.metrics_listen +
                         "' is not \"address:port\", \"[v6]:port\" or a port (127.0.0.1)");
        if (!c.tls_listen.empty() && (c.tls_certificate.empty() || c.tls_key.empty()))
            src.fail(*ht.get("tls_listen"), "tls_listen needs tls_certificate and tls_key");
        if (c.tls_listen.empty() && (!c.tls_certificate.empty() || !c.tls_key.empty()))
            src.fail(*ht.get(c.tls_key.empty() ? "tls_certificate" : "tls_key"),
                     "a certificate without tls_listen: no address would serve it");
        for (std::string* p : {&c.tls_certificate, &c.tls_key})
            if (!p->empty() && (*p)[0] != '/')
                *p = (std::filesystem::path(path).parent_path() / *p).lexically_normal().string();
        if (!c.group.empty() && c.user.empty())
            src.fail(*ht.get("group"), "group needs user: the user to run as");
        if (!c.user.empty()) {
            std::string why;
            if (!common::resolve_run_as(c.user, c.group, why)) src.fail(*ht.get("user"), why);
        }
        const toml::node* list = ht.get("hosts");
        const toml::array* arr = list ? list->as_array() : nullptr;
        if (!arr || arr->empty())
            src.fail(list ? line_of(*list) : line_of(*hn),
                     "no [[http.hosts]]: add one with host and redirect");
        for (const auto& item : *arr) {
            const auto* t = item.as_table();
            if (!t) src.fail(item, "[[http.hosts]] entries must be tables");
            HostRoute h;
            h.line = line_of(item);
            config::read_table<HostRoute>(*t, host_keys(), h, src, "[[http.hosts]]");
            if (h.host.empty() || h.redirect.empty())
                src.fail(item, "[[http.hosts]] needs host and redirect");
            for (auto& ch : h.host)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            while (!h.host.empty() && h.host.back() == '.') h.host.pop_back();
            if (h.host.find_first_of(" \t/:@") != std::string::npos)
                src.fail(*t->get("host"), "host = \"" + h.host + "\": a host name, without port");
            if (h.status != 0 && h.status != 301 && h.status != 302 && h.status != 307 &&
                h.status != 308)
                src.fail(*t->get("status"), "status = " + std::to_string(h.status) +
                                                ": expected 301, 302, 307 or 308");
            if (c.route(h.host))
                src.fail(item, "host " + h.host + " listed twice in [[http.hosts]]");
            bool found = false;
            std::string names;
            for (std::size_t i = 0; i < c.edges.redirects.size(); ++i) {
                names += (names.empty() ? "" : ", ") + c.edges.redirects[i].name;
                if (c.edges.redirects[i].name == h.redirect) {
                    h.redirect_index = i;
                    found = true;
                }
            }
            if (!found)
                src.fail(*t->get("redirect"), "redirect = \"" + h.redirect +
                                                  "\": no [[redirects]] entry has that name "
                                                  "(known: " +
                                                  (names.empty() ? "none" : names) + ")");
            for (std::uint32_t n : nodes_of(c.edges, c.edges.redirects[h.redirect_index]))
                if (c.edges.nodes[n].http_base.empty())
                    src.fail(c.edges.nodes[n].line, "node " + c.edges.nodes[n].name +
                                                        " has no http_base, and host " + h.host +
                                                        " (line " + std::to_string(h.line) +
                                                        ") can send clients to it");
            c.hosts.push_back(std::move(h));
        }
    } catch (const Problem& p) {
        error = p.text();
        return std::nullopt;
    }
    return c;
}

}  // namespace signpost::redirectd
