#include "dnsd/server/config.hpp"

#include "dnsd/redirect/nodes_config.hpp"
#include "dnsd/redirect/toml_util.hpp"

#include <toml++/toml.h>
#include <charconv>
#include <filesystem>
#include <set>
#include <sstream>

namespace signpost::dnsd {

std::string ListenAddress::text() const {
    return address.is_v4() ? address.to_string() + ":" + std::to_string(port)
                           : "[" + address.to_string() + "]:" + std::to_string(port);
}

std::optional<ListenAddress> parse_listen(const std::string& text) {
    std::string host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    auto addr = common::IpAddress::parse(host);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (!addr || port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535)
        return std::nullopt;
    return ListenAddress{*addr, static_cast<std::uint16_t>(p)};
}

namespace {

struct Problem {
    std::string what;
    int line;
};

template <class T>
T get_int(const toml::table& t, const char* key, T def, long long lo, long long hi) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    const auto* v = n->as_integer();
    if (!v || v->get() < lo || v->get() > hi) {
        throw Problem{std::string(key) + " = " + describe(*n) + ": expected an integer " +
                          std::to_string(lo) + ".." + std::to_string(hi),
                      line_of(*n)};
    }
    return static_cast<T>(v->get());
}

std::string get_string(const toml::table& t, const char* key, const std::string& def) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    const auto* v = n->as_string();
    if (!v) throw Problem{std::string(key) + ": expected a string", line_of(*n)};
    return v->get();
}

void check_keys(const toml::table& t, std::initializer_list<const char*> known, const char* where) {
    for (const auto& [k, v] : t) {
        bool ok = false;
        for (const char* name : known) ok = ok || k.str() == name;
        if (!ok)
            throw Problem{"unknown key '" + std::string(k.str()) + "' in " + where, line_of(v)};
    }
}

}  // namespace

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
    std::vector<std::string> out;
    auto texts = [](const Config& c) {
        std::vector<std::string> t;
        for (const auto& l : c.listen) t.push_back(l.text());
        return t;
    };
    if (texts(a) != texts(b)) out.push_back("listen");
    if (a.threads != b.threads) out.push_back("threads");
    if (a.udp_rcvbuf != b.udp_rcvbuf) out.push_back("udp_rcvbuf");
    if (a.tcp_idle_timeout_ms != b.tcp_idle_timeout_ms) out.push_back("tcp_idle_timeout_ms");
    if (a.tcp_max_connections != b.tcp_max_connections) out.push_back("tcp_max_connections");
    if (a.tcp_max_per_client != b.tcp_max_per_client) out.push_back("tcp_max_per_client");
    if (a.control_socket != b.control_socket) out.push_back("control_socket");
    if (a.metrics_listen != b.metrics_listen) out.push_back("metrics_listen");
    return out;
}

std::optional<Config> load_config(const std::string& path, std::string& error) {
    Config c;
    c.path = path;
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        error = path + ":" + std::to_string(e.source().begin.line) + ": " +
                std::string(e.description());
        return std::nullopt;
    }
    const auto base = std::filesystem::absolute(path).parent_path();
    try {
        check_keys(root,
                   {"server", "zones", "nodes", "maps", "redirects", "geoip", "health", "rrl"},
                   "the top level (expected [server], [[zones]], [[nodes]], [maps.NAME], "
                   "[[redirects]], [geoip], [health], [rrl])");
        const toml::table empty;
        const toml::table* server = root["server"].as_table();
        if (root.get("server") && !server)
            throw Problem{"[server] must be a table", line_of(*root.get("server"))};
        const toml::table& s = server ? *server : empty;
        check_keys(s,
                   {"listen", "threads", "edns_payload", "nsid", "cookies", "cookie_secret",
                    "tcp_idle_timeout_ms", "tcp_max_connections", "tcp_max_per_client",
                    "udp_rcvbuf", "control_socket", "metrics_listen"},
                   "[server]");
        if (const toml::node* l = s.get("listen")) {
            const auto* arr = l->as_array();
            if (!arr || arr->empty())
                throw Problem{"listen: expected a list of \"address:port\"", line_of(*l)};
            for (const auto& item : *arr) {
                const auto* str = item.as_string();
                auto la = str ? parse_listen(str->get()) : std::nullopt;
                if (!la)
                    throw Problem{
                        "listen: " + (str ? "'" + str->get() + "'" : std::string("value")) +
                            " is not \"ipv4:port\" or \"[ipv6]:port\"",
                        line_of(item)};
                c.listen.push_back(*la);
            }
        } else {
            c.listen.push_back(*parse_listen("127.0.0.1:53"));
        }
        c.threads = get_int<unsigned>(s, "threads", 0, 0, 256);
        // RFC 6891 6.2.5: values below 512 are treated as 512; above 4096 is
        // pointless (fragmentation) and our buffers stop there.
        c.edns_payload = get_int<std::uint16_t>(s, "edns_payload", 1232, 512, 4096);
        c.nsid = get_string(s, "nsid", "");
        if (c.nsid.size() > 128)
            throw Problem{"nsid: " + std::to_string(c.nsid.size()) +
                              " octets; at most 128 (it rides in every answer that asks)",
                          line_of(*s.get("nsid"))};
        if (const toml::node* n = s.get("cookies")) {
            if (!n->as_boolean()) throw Problem{"cookies: expected true or false", line_of(*n)};
            c.cookies = n->as_boolean()->get();
        }
        if (s.get("cookie_secret")) {
            const std::string hex = get_string(s, "cookie_secret", "");
            c.cookie_secret = parse_cookie_secret(hex);
            if (!c.cookie_secret)
                throw Problem{
                    "cookie_secret: expected 32 hexadecimal digits (128 bits, RFC 9018), "
                    "got '" +
                        hex + "'",
                    line_of(*s.get("cookie_secret"))};
        }
        c.tcp_idle_timeout_ms = get_int<unsigned>(s, "tcp_idle_timeout_ms", 10000, 100, 3600000);
        c.tcp_max_connections = get_int<unsigned>(s, "tcp_max_connections", 1024, 1, 1000000);
        c.tcp_max_per_client = get_int<unsigned>(s, "tcp_max_per_client", 32, 1, 1000000);
        c.udp_rcvbuf = get_int<unsigned>(s, "udp_rcvbuf", 4u << 20, 0, 1u << 30);
        if (c.udp_rcvbuf != 0 && c.udp_rcvbuf < 4096)
            throw Problem{"udp_rcvbuf: " + std::to_string(c.udp_rcvbuf) +
                              " is below 4096 (0 keeps the kernel's default)",
                          line_of(*s.get("udp_rcvbuf"))};
        c.control_socket = get_string(s, "control_socket", "");
        c.metrics_listen = get_string(s, "metrics_listen", "");
        if (!c.metrics_listen.empty() && !parse_listen(c.metrics_listen))
            throw Problem{"metrics_listen: '" + c.metrics_listen + "' is not \"address:port\"",
                          line_of(*s.get("metrics_listen"))};

        if (const toml::node* rn = root.get("rrl")) {
            const toml::table* r = rn->as_table();
            if (!r) throw Problem{"[rrl] must be a table", line_of(*rn)};
            check_keys(*r,
                       {"responses_per_second", "slip", "ipv4_prefix", "ipv6_prefix", "table_size"},
                       "[rrl]");
            c.rrl.responses_per_second =
                get_int<unsigned>(*r, "responses_per_second", 0, 0, 1000000);
            c.rrl.slip = get_int<unsigned>(*r, "slip", 2, 0, 10);
            c.rrl.ipv4_prefix = get_int<unsigned>(*r, "ipv4_prefix", 24, 8, 32);
            c.rrl.ipv6_prefix = get_int<unsigned>(*r, "ipv6_prefix", 56, 16, 128);
            c.rrl.table_size = get_int<unsigned>(*r, "table_size", 65536, 1024, 1u << 24);
        }

        const toml::node* zn = root.get("zones");
        const toml::array* zones = zn ? zn->as_array() : nullptr;
        if (!zones || zones->empty())
            throw Problem{"no zones: add a [[zones]] table with name and file",
                          zn ? line_of(*zn) : 0};
        std::set<std::string> names;
        for (const auto& z : *zones) {
            const auto* zt = z.as_table();
            if (!zt) throw Problem{"[[zones]] entries must be tables", line_of(z)};
            check_keys(*zt, {"name", "file"}, "[[zones]]");
            ZoneConfig zc;
            zc.line = line_of(z);
            zc.name = get_string(*zt, "name", "");
            zc.file = get_string(*zt, "file", "");
            if (zc.name.empty() || zc.file.empty())
                throw Problem{"[[zones]] needs both name and file", zc.line};
            while (zc.name.size() > 1 && zc.name.back() == '.') zc.name.pop_back();
            std::string lower = zc.name;
            for (auto& ch : lower)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (!names.insert(lower).second)
                throw Problem{"zone " + zc.name + " listed twice", zc.line};
            if (std::filesystem::path(zc.file).is_relative()) zc.file = (base / zc.file).string();
            c.zones.push_back(std::move(zc));
        }
    } catch (const Problem& p) {
        error = path + (p.line > 0 ? ":" + std::to_string(p.line) : std::string()) + ": " + p.what;
        return std::nullopt;
    }
    auto edges = load_edges(root, path, error);
    if (!edges) return std::nullopt;
    c.edges = std::move(*edges);
    return c;
}

}  // namespace signpost::dnsd
