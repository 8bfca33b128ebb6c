#include "dnsd/server/config.hpp"

#include "common/metrics_server.hpp"
#include "common/version.hpp"
#include "dnsd/config/schema.hpp"
#include "dnsd/redirect/nodes_config.hpp"

#include <toml++/toml.h>
#include <charconv>
#include <filesystem>
#include <set>
#include <sstream>

namespace signpost::dnsd {
inline namespace server {

std::string ListenAddress::text() const {
    return address.is_v4() ? address.to_string() + ":" + std::to_string(port)
                           : "[" + address.to_string() + "]:" + std::to_string(port);
}

std::optional<ListenAddress> parse_listen(const std::string& text) {
    const auto hp = common::parse_host_port(text);
    if (!hp) return std::nullopt;
    return ListenAddress{hp->address, hp->port};
}

namespace {

using config::Key;
using config::line_of;
using config::Problem;
using config::Source;

std::string hex(const CookieSecret& s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const auto byte : s) {
        out += kHex[byte >> 4];
        out += kHex[byte & 15];
    }
    return out;
}

const std::vector<Key<Config>>& server_keys() {
    static const std::vector<Key<Config>> keys = {
        config::list<Config, ListenAddress>(
            "listen", "\"ipv4:port\" or \"[ipv6]:port\"",
            "Addresses and ports answered on, UDP and TCP; \"0.0.0.0:53\" and \"[::]:53\" answer "
            "on every address of the host, each answer from the address its query was sent to",
            true, [](auto& c) -> auto& { return c.listen; }, parse_listen,
            [](const ListenAddress& l) { return l.text(); }, true),
        config::integer<Config>(
            "threads", [](auto& c) -> auto& { return c.threads; }, 0, 256,
            "UDP worker threads per listen address (0: one per core)", true),
        config::integer<Config>(
            "edns_payload", [](auto& c) -> auto& { return c.edns_payload; }, 512, 4096,
            "The EDNS UDP payload advertised and honoured at most; 1232 fits the IPv6 minimum "
            "MTU, so answers are never fragmented"),
        config::string<Config>(
            "nsid", [](auto& c) -> auto& { return c.nsid; },
            "Name server identifier (EDNS NSID, RFC 5001) sent to clients "
            "that ask, up to 128 octets; empty: none"),
        config::boolean<Config>(
            "cookies", [](auto& c) -> auto& { return c.cookies; },
            "Answer DNS Cookies (RFC 7873, RFC 9018 server cookies)"),
        config::custom<Config>(
            "cookie_secret", "32 hexadecimal digits",
            "The RFC 9018 server cookie secret, the same on every server of a fleet; "
            "unset: random per process",
            false,
            [](Config& c, const toml::node& n, const Source& src) {
                const auto* str = n.as_string();
                if (str) c.cookie_secret = parse_cookie_secret(str->get());
                if (!str || !c.cookie_secret)
                    src.fail(n,
                             "cookie_secret: expected 32 hexadecimal digits (128 bits, RFC 9018), "
                             "got " +
                                 config::describe(n));
            },
            [](const Config& c) {
                return c.cookie_secret ? config::toml_string(hex(*c.cookie_secret))
                                       : std::string("(random)");
            }),
        config::integer<Config>(
            "tcp_idle_timeout_ms", [](auto& c) -> auto& { return c.tcp_idle_timeout_ms; }, 100,
            3600000, "TCP connections without a complete query for this long are closed", true),
        config::integer<Config>(
            "tcp_max_connections", [](auto& c) -> auto& { return c.tcp_max_connections; }, 1,
            1000000, "TCP connections at most, in total", true),
        config::integer<Config>(
            "tcp_max_per_client", [](auto& c) -> auto& { return c.tcp_max_per_client; }, 1, 1000000,
            "TCP connections at most per client address", true),
        config::integer<Config>(
            "udp_rcvbuf", [](auto& c) -> auto& { return c.udp_rcvbuf; }, 0, 1 << 30,
            "Receive buffer of each UDP socket, in bytes, at least 4096 (0: the kernel's "
            "default); bursts that overflow it are lost and counted",
            true),
        config::string<Config>(
            "control_socket", [](auto& c) -> auto& { return c.control_socket; },
            "The Unix socket dnsdctl talks to (empty: none)", true),
        config::custom<Config>(
            "control_socket_mode", "string, an octal mode",
            "The control socket's permissions. Connecting needs write permission: with 0660 the "
            "owner and control_socket_group may drain nodes, nobody else",
            true,
            [](Config& c, const toml::node& n, const Source& src) {
                const auto* str = n.as_string();
                const auto mode = str ? common::parse_socket_mode(str->get()) : std::nullopt;
                if (!mode)
                    src.fail(n, "control_socket_mode = " + config::describe(n) +
                                    ": expected an octal mode like \"0660\"");
                c.control_access.mode = *mode;
            },
            [](const Config& c) {
                return config::toml_string(common::mode_text(c.control_access.mode));
            }),
        config::custom<Config>(
            "control_socket_group", "string, a group name or number",
            "The control socket's group (empty: dnsd's own): operators in it use dnsdctl", true,
            [](Config& c, const toml::node& n, const Source& src) {
                const auto* str = n.as_string();
                if (!str)
                    src.fail(n, "control_socket_group = " + config::describe(n) +
                                    ": expected a group name");
                std::string error;
                if (!str->get().empty() && !common::lookup_group(str->get(), error))
                    src.fail(n, "control_socket_group: " + error);
                c.control_access.group = str->get();
            },
            [](const Config& c) { return config::toml_string(c.control_access.group); }),
        config::string<Config>(
            "metrics_listen", [](auto& c) -> auto& { return c.metrics_listen; },
            "\"address:port\" where Prometheus scrapes /metrics; a port alone listens on "
            "127.0.0.1 (empty: none)",
            true),
        config::string<Config>(
            "user", [](auto& c) -> auto& { return c.user; },
            "Run as this user once every socket is bound (port 53 needs root or "
            "CAP_NET_BIND_SERVICE only to bind). Started as root without it, dnsd refuses to run "
            "unless given --allow-root. Config, zone and map files must be readable by it, the "
            "admin state's directory writable",
            true),
        config::string<Config>(
            "group", [](auto& c) -> auto& { return c.group; },
            "The group to run as with `user` (empty: the user's own)", true),
        config::choice<Config>(
            "log_level", [](auto& c) -> auto& { return c.log_level; },
            std::vector<std::pair<const char*, common::LogLevel>>{
                {"debug", common::LogLevel::kDebug},
                {"info", common::LogLevel::kInfo},
                {"warn", common::LogLevel::kWarn},
                {"error", common::LogLevel::kError}},
            "Lines below this level are not logged (a reload changes it)"),
    };
    return keys;
}

const std::vector<Key<Config>>& rrl_keys() {
    static const std::vector<Key<Config>> keys = {
        config::integer<Config>(
            "responses_per_second", [](auto& c) -> auto& { return c.rrl.responses_per_second; }, 0,
            1000000, "Responses per second per client netblock and kind of response (0: off)"),
        config::integer<Config>(
            "slip", [](auto& c) -> auto& { return c.rrl.slip; }, 0, 10,
            "Every slip-th limited response is sent empty with TC=1, so a real client retries "
            "over TCP (0: none)"),
        config::integer<Config>(
            "ipv4_prefix", [](auto& c) -> auto& { return c.rrl.ipv4_prefix; }, 8, 32,
            "IPv4 clients are counted per netblock of this length"),
        config::integer<Config>(
            "ipv6_prefix", [](auto& c) -> auto& { return c.rrl.ipv6_prefix; }, 16, 128,
            "IPv6 clients are counted per netblock of this length"),
        config::integer<Config>(
            "table_size", [](auto& c) -> auto& { return c.rrl.table_size; }, 1024, 1 << 24,
            "Counting cells (rounded up to a power of two)"),
    };
    return keys;
}

const std::vector<Key<ZoneConfig>>& zone_keys() {
    static const std::vector<Key<ZoneConfig>> keys = {
        config::string<ZoneConfig>(
            "name", [](auto& z) -> auto& { return z.name; },
            "The zone's apex, like \"cdn.example.net\" (required)"),
        config::string<ZoneConfig>(
            "file", [](auto& z) -> auto& { return z.file; },
            "Its RFC 1035 master file; relative to the config file's directory (required). For "
            "a secondary zone, where dnsd keeps its copy of the zone (written by dnsd: a restart "
            "serves it at once)"),
        config::choice<ZoneConfig>(
            "serial", [](auto& z) -> auto& { return z.serial; },
            std::vector<std::pair<const char*, ZoneConfig::SerialPolicy>>{
                {"file", ZoneConfig::SerialPolicy::kFile},
                {"unixtime", ZoneConfig::SerialPolicy::kUnixtime}},
            "The SOA serial served. \"file\": the zone file's (a reload that changes the records "
            "but not the serial is warned about: secondaries keep the old copy). \"unixtime\": "
            "dnsd raises it whenever the records or the redirect names' exports change: the "
            "file's serial, the time of the load, or the last served + 1, whichever is highest "
            "(RFC 1982), and logs each raise; an unchanged zone keeps its serial across reloads, "
            "a restart serves at least the current time"),
        config::list<ZoneConfig, ListenAddress>(
            "primaries", "\"ipv4:port\" or \"[ipv6]:port\"",
            "Makes the zone a secondary: dnsd transfers it from these primaries (IXFR, else "
            "AXFR; the first that answers), checks their SOA serial every refresh interval of the "
            "zone's SOA (after a failure every retry interval), answers SERVFAIL once the SOA "
            "expire interval passes without an answer, and acknowledges NOTIFYs from their "
            "addresses only. Redirect names are layered on top as for a file zone",
            false, [](auto& z) -> auto& { return z.primaries; }, parse_listen,
            [](const ListenAddress& l) { return l.text(); }),
        config::string<ZoneConfig>(
            "primary_key", [](auto& z) -> auto& { return z.primary_key_name; },
            "A [[keys]] name: the SOA queries and transfers to the primaries are signed with it "
            "(TSIG, RFC 8945) and their answers must be signed back"),
        config::list<ZoneConfig, common::Prefix>(
            "allow_transfer", "addresses or prefixes",
            "Clients that may transfer the zone (AXFR over TCP, RFC 5936; IXFR, RFC 1995, from "
            "the differences kept since each serial, else the whole zone); everyone else is "
            "refused. Redirect names are exported with their fallback answers (see the "
            "redirects' `export`)",
            false, [](auto& z) -> auto& { return z.allow_transfer; },
            [](const std::string& t) { return common::Prefix::parse(t); },
            [](const common::Prefix& p) { return p.to_string(); }),
        config::list<ZoneConfig, std::string>(
            "transfer_keys", "[[keys]] names",
            "With keys here, a transfer must also be signed (TSIG, RFC 8945) with one of these "
            "[[keys]], and every message of it is signed back",
            false, [](auto& z) -> auto& { return z.transfer_key_names; },
            [](const std::string& t) { return std::optional<std::string>(t); },
            [](const std::string& t) { return t; }),
        config::list<ZoneConfig, ListenAddress>(
            "notify", "\"ipv4:port\" or \"[ipv6]:port\"",
            "Secondaries sent a NOTIFY (RFC 1996) when a reload changes the zone's serial, "
            "retried with backoff until each answers",
            false, [](auto& z) -> auto& { return z.notify; }, parse_listen,
            [](const ListenAddress& l) { return l.text(); }),
        config::boolean<ZoneConfig>(
            "notify_ns", [](auto& z) -> auto& { return z.notify_ns; },
            "Also NOTIFY the zone's own name servers: the addresses (A, AAAA in the zone) of "
            "its apex NS targets, port 53, except the SOA's MNAME (RFC 1996 3.6) and dnsd's own "
            "listen addresses; a target "
            "with no address in the zone is warned about on each reload and skipped. "
            "`notify` adds to these (BIND's also-notify)"),
    };
    return keys;
}

// "http" is redirectd's (the HTTP redirector reads the same file).
const char* const kTopLevel[] = {"server", "zones",  "nodes", "maps", "redirects",
                                 "geoip",  "health", "rrl",   "keys", "http"};

struct KeyConfig {
    std::string name, algorithm = "hmac-sha256", secret;
};
const std::vector<Key<KeyConfig>>& key_keys() {
    static const std::vector<Key<KeyConfig>> keys = {
        config::string<KeyConfig>(
            "name", [](auto& k) -> auto& { return k.name; },
            "The key's name, as the secondary names it (\"xfr.cdn.example.net.\"; required)"),
        config::string<KeyConfig>(
            "algorithm", [](auto& k) -> auto& { return k.algorithm; },
            "hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224 or hmac-sha1"),
        config::string<KeyConfig>(
            "secret", [](auto& k) -> auto& { return k.secret; },
            "The shared secret, base64 (as `tsig-keygen` or `keymgr -t` print it; required)"),
    };
    return keys;
}

// A table of the top level (absent: `empty`), or a Problem if not a table.
const toml::table& section(const toml::table& root, const char* name, const Source& src) {
    static const toml::table empty;
    const toml::node* n = root.get(name);
    if (!n) return empty;
    if (!n->as_table()) src.fail(*n, std::string("[") + name + "] must be a table");
    return *n->as_table();
}

}  // namespace

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
    return config::restart_changes<Config>(server_keys(), a, b);
}

namespace {

// Every section of the reference, in `format`.
std::string reference_sections(config::Format format) {
    const Config c;
    std::string s;
    s += config::reference<Config>("[server]", "The server as a whole.", server_keys(), c, format);
    s += config::reference<Config>(
        "[rrl]",
        "Response rate limiting for UDP, against use as a reflector. TCP and clients with a "
        "valid server cookie are not limited.",
        rrl_keys(), c, format);
    s += config::reference<ZoneConfig>("[[zones]]", "One table per zone served from a file.",
                                       zone_keys(), ZoneConfig{}, format);
    s += config::reference<KeyConfig>(
        "[[keys]]", "TSIG keys (RFC 8945) that zones may require of a transfer (`transfer_keys`).",
        key_keys(), KeyConfig{}, format);
    s += edges_reference(format);
    return s;
}

}  // namespace

std::string config_reference() {
    return "# dnsd configuration reference\n\n"
           "Generated by `dnsd --print-config-reference` from the schema in the code "
           "(`dnsd/server/config.cpp`, `dnsd/redirect/nodes_config.cpp`); a test checks this "
           "file against it and against `maps/dnsd.toml.example`. \"restart\": a change takes "
           "effect when dnsd restarts; every other key applies on reload. Rules that tie keys "
           "together are checked as code and reported, like every error, with file:line.\n\n" +
           reference_sections(config::Format::markdown);
}

std::string config_manual() {
    using config::man_text;
    std::string s = std::string(".TH DNSD.TOML 5 \"\" \"signpost ") + common::kVersion +
                    "\" \"File Formats Manual\"\n";
    s +=
        ".SH NAME\ndnsd.toml \\- configuration file of dnsd, signpost's authoritative DNS server\n";
    s += ".SH SYNOPSIS\n/etc/signpost/dnsd.toml\n";
    s += ".SH DESCRIPTION\n";
    s += man_text(
        "`dnsd`(8) reads one TOML file, named with `--config` (the dnsd unit: "
        "`/etc/signpost/dnsd.toml`). `dnsd --check-config --config FILE` reports every problem "
        "in it with file:line and the value; a reload that finds one refuses the file and keeps "
        "serving.");
    s += "\n.PP\n";
    s += man_text(
        "Each key below is shown as `key = default`, with what it does and its type. A change "
        "to a key that needs a restart takes effect when dnsd restarts; every other key applies "
        "on reload (`systemctl reload dnsd`, SIGHUP, `dnsdctl reload`). Rules that tie keys "
        "together are checked as code and reported, like every error, with file:line.");
    s += "\n.PP\n";
    s += man_text(
        "This page is generated by `dnsd --print-config-reference=man` from the schema in the "
        "code; `dnsd --print-config-reference` prints the same in Markdown "
        "(`/usr/share/doc/signpost/config-reference.md`).");
    s += "\n.SH KEYS\n" + reference_sections(config::Format::man);
    s += ".SH FILES\n.TP\n";
    s += man_text("`/etc/signpost/dnsd.toml`\nThe configuration the dnsd unit runs with.");
    s += "\n.TP\n";
    s += man_text(
        "`/usr/share/doc/signpost/examples/dnsd.toml.example`\nAn example that sets or shows "
        "every key, with comments.");
    s +=
        "\n.SH SEE ALSO\n.BR dnsd (8),\n.BR dnsdctl (8),\n.BR geoipd (8),\n.BR geoipctl (8)\n.PP\n";
    s += man_text("Maps, redirects and operations: `/usr/share/doc/signpost/README.md`.") + "\n";
    return s;
}

std::optional<Config> load_config(const std::string& path, std::string& error) {
    Config c;
    c.path = path;
    toml::table root;
    try {
        root = config::parse_file(path);
    } catch (const config::Problem& p) {
        error = p.text();
        return std::nullopt;
    }
    const auto base = std::filesystem::absolute(path).parent_path();
    const Source src{path};
    try {
        std::string top;
        for (const char* t : kTopLevel) top += (top.empty() ? "" : ", ") + std::string(t);
        for (const auto& [k, v] : root) {
            bool known = false;
            for (const char* t : kTopLevel) known = known || k.str() == t;
            if (!known)
                src.fail(v, "unknown key '" + std::string(k.str()) +
                                "' in the top level (expected [server], [[zones]], [[nodes]], "
                                "[maps.NAME], [[redirects]], [geoip], [health], [rrl], [[keys]], "
                                "[http])");
        }
        const toml::table& s = section(root, "server", src);
        config::read_table<Config>(s, server_keys(), c, src, "[server]");
        // Rules beyond one key's type and range.
        if (c.nsid.size() > 128)
            src.fail(*s.get("nsid"), "nsid: " + std::to_string(c.nsid.size()) +
                                         " octets; at most 128 (it rides in every answer that "
                                         "asks)");
        if (c.udp_rcvbuf != 0 && c.udp_rcvbuf < 4096)
            src.fail(*s.get("udp_rcvbuf"), "udp_rcvbuf: " + std::to_string(c.udp_rcvbuf) +
                                               " is below 4096 (0 keeps the kernel's default)");
        if (!c.metrics_listen.empty() && !common::MetricsServer::valid(c.metrics_listen))
            src.fail(*s.get("metrics_listen"),
                     "metrics_listen: '" + c.metrics_listen +
                         "' is not \"address:port\", \"[v6]:port\" or a port (127.0.0.1)");
        if (!c.group.empty() && c.user.empty())
            src.fail(*s.get("group"),
                     "group = " + config::toml_string(c.group) + " needs user: the user to run as");
        if (!c.user.empty()) {
            std::string why;
            if (!common::resolve_run_as(c.user, c.group, why)) {
                const bool group = !c.group.empty() && why.find("group") != std::string::npos;
                src.fail(*s.get(group ? "group" : "user"), (group ? "group: " : "user: ") + why);
            }
        }
        config::read_table<Config>(section(root, "rrl", src), rrl_keys(), c, src, "[rrl]");
        if (const toml::node* kn = root.get("keys")) {
            const toml::array* arr = kn->as_array();
            if (!arr) src.fail(*kn, "keys: expected [[keys]] tables");
            for (const auto& k : *arr) {
                const auto* kt = k.as_table();
                if (!kt) src.fail(k, "[[keys]] entries must be tables");
                KeyConfig kc;
                config::read_table<KeyConfig>(*kt, key_keys(), kc, src, "[[keys]]");
                if (kc.name.empty() || kc.secret.empty())
                    src.fail(k, "[[keys]] needs name and secret");
                std::string why;
                auto key = make_tsig_key(kc.name, kc.algorithm, kc.secret, why);
                if (!key) src.fail(k, "key " + kc.name + ": " + why);
                for (const auto& other : c.keys)
                    if (other->name_wire == key->name_wire)
                        src.fail(k, "key " + kc.name + " listed twice");
                c.keys.push_back(std::make_shared<const TsigKey>(std::move(*key)));
            }
        }

        const toml::node* zn = root.get("zones");
        const toml::array* zones = zn ? zn->as_array() : nullptr;
        if (!zones || zones->empty())
            src.fail(zn ? line_of(*zn) : 0, "no zones: add a [[zones]] table with name and file");
        std::set<std::string> names;
        for (const auto& z : *zones) {
            const auto* zt = z.as_table();
            if (!zt) src.fail(z, "[[zones]] entries must be tables");
            ZoneConfig zc;
            zc.line = line_of(z);
            config::read_table<ZoneConfig>(*zt, zone_keys(), zc, src, "[[zones]]");
            if (zc.name.empty() || zc.file.empty())
                src.fail(zc.line, "[[zones]] needs both name and file");
            while (zc.name.size() > 1 && zc.name.back() == '.') zc.name.pop_back();
            std::string lower = zc.name;
            for (auto& ch : lower)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (!names.insert(lower).second) src.fail(zc.line, "zone " + zc.name + " listed twice");
            if (std::filesystem::path(zc.file).is_relative()) zc.file = (base / zc.file).string();
            // A [[keys]] entry by name, or file:line naming the ones there are.
            auto key_named = [&](const std::string& want, const char* field) {
                std::string known;
                for (const auto& k : c.keys) {
                    if (k->name == want) return k;
                    known += (known.empty() ? "" : ", ") + k->name;
                }
                src.fail(*zt->get(field), std::string(field) + ": no [[keys]] named \"" + want +
                                              "\" (known: " + (known.empty() ? "none" : known) +
                                              ")");
            };
            for (const auto& want : zc.transfer_key_names)
                zc.transfer_keys.push_back(key_named(want, "transfer_keys"));
            if (!zc.primary_key_name.empty()) {
                zc.primary_key = key_named(zc.primary_key_name, "primary_key");
                if (!zc.secondary())
                    src.fail(*zt->get("primary_key"),
                             "primary_key needs primaries: the servers this zone is taken from");
            }
            if (zc.secondary() && zc.serial != ZoneConfig::SerialPolicy::kFile)
                src.fail(*zt->get("serial"),
                         "serial: a secondary zone serves its primaries' serial");
            c.zones.push_back(std::move(zc));
        }
    } catch (const Problem& p) {
        error = p.text();
        return std::nullopt;
    }
    auto edges = load_edges(root, path, error);
    if (!edges) return std::nullopt;
    c.edges = std::move(*edges);
    return c;
}

}  // namespace server
}  // namespace signpost::dnsd
