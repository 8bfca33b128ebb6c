#include "redirectd/decide.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace signpost::redirectd {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// One entry of a proxy chain: "192.0.2.1", "2001:db8::1", "[2001:db8::1]:443",
// "192.0.2.1:1234", or RFC 7239's quoted forms of the same.
std::optional<common::IpAddress> chain_address(std::string_view s) {
    s = trim(s);
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        return common::IpAddress::parse(s.substr(1, close - 1));
    }
    if (auto ip = common::IpAddress::parse(s)) return ip;
    // IPv4 with a port.
    const auto colon = s.find(':');
    if (colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) {
        auto ip = common::IpAddress::parse(s.substr(0, colon));
        if (ip && ip->is_v4()) return ip;
    }
    return std::nullopt;
}

bool trusted_peer(const common::IpAddress& a, const std::vector<common::Prefix>& trusted) {
    const auto u = a.unmapped();
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const common::Prefix& p) { return p.contains(u); });
}

// The addresses a header lists, in order (left: the original client).
std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        const auto at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

// HTML-escaped `s` appended to `out`; a clean run is appended whole.
void append_escaped(std::string_view s, std::string& out) {
    while (!s.empty()) {
        const auto at = s.find_first_of("&<>\"");
        out.append(s.substr(0, at));
        if (at == std::string_view::npos) return;
        switch (s[at]) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            default:
                out += "&quot;";
        }
        s.remove_prefix(at + 1);
    }
}

}  // namespace

common::IpAddress client_address(const common::IpAddress& peer, std::string_view header,
                                 const std::vector<common::Prefix>& trusted,
                                 bool forwarded_syntax) {
    if (!trusted_peer(peer, trusted)) return peer.unmapped();
    std::vector<std::string_view> chain;
    if (header.empty()) {
        // Nothing named: the proxy itself is the client.
    } else if (forwarded_syntax) {
        const std::string_view forwarded = header;
        // Forwarded: for=...;proto=..., for=... (RFC 7239 4): the for= of each element.
        for (auto element : split(forwarded, ',')) {
            std::string_view found;
            for (auto pair : split(element, ';')) {
                pair = trim(pair);
                if (pair.size() > 4 && (pair[0] == 'f' || pair[0] == 'F') &&
                    (pair[1] == 'o' || pair[1] == 'O') && (pair[2] == 'r' || pair[2] == 'R') &&
                    pair[3] == '=')
                    found = pair.substr(4);
            }
            chain.push_back(found);
        }
    } else {
        chain = split(header, ',');
    }
    common::IpAddress client = peer.unmapped();
    // From the nearest hop outwards: each trusted hop vouches for the one before it.
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const auto ip = chain_address(*it);
        if (!ip) break;
        client = ip->unmapped();
        if (!trusted_peer(client, trusted)) break;
    }
    return client;
}

std::string host_name(std::string_view h) {
    std::string out;
    host_name(h, out);
    return out;
}

void host_name(std::string_view h, std::string& out) {
    h = trim(h);
    out.clear();
    if (!h.empty() && h.front() == '[') {  // an IPv6 literal
        const auto close = h.find(']');
        if (close == std::string_view::npos) return out.clear();
        out.assign(h.substr(0, close + 1));
        h.remove_prefix(close + 1);
        if (!h.empty() && h.front() != ':') return out.clear();
    } else {
        const auto colon = h.find(':');
        out.assign(h.substr(0, colon));
        h = colon == std::string_view::npos ? std::string_view() : h.substr(colon);
    }
    if (!h.empty()) {  // ":port"
        if (h.size() < 2 || h.size() > 6) return out.clear();
        for (char c : h.substr(1))
            if (!std::isdigit(static_cast<unsigned char>(c))) return out.clear();
    }
    while (!out.empty() && out.back() == '.') out.pop_back();
    for (auto& c : out) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= ' ' || u >= 0x7f || c == '/' || c == '@' || c == '\\') return out.clear();
        c = static_cast<char>(std::tolower(u));
    }
}

void append_redirect_body(std::string_view location, std::string& out) {
    out += "<a href=\"";
    append_escaped(location, out);
    out += "\">";
    append_escaped(location, out);
    out += "</a>\n";
}

void decide_request(const RedirectState& st, const dnsd::HealthView& health, std::string_view host,
                    std::string_view target, const common::IpAddress& client,
                    std::uint64_t rr_counter, Outcome& o) {
    o.status = 0;
    o.location.clear();
    o.ttl = 0;
    o.tier = dnsd::Tier::kNone;
    o.node = -1;
    o.why.clear();
    const HostRoute* route = st.config->route(host);
    if (!route) {
        o.status = 421;  // RFC 9110 15.5.20: not a host this server answers for
        o.why = "this server does not redirect for that host";
        return;
    }
    // The path and query as asked: origin-form, or the path of an absolute-form target.
    if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
        const auto slash = target.find('/', target.find("//") + 2);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target.empty() || target.front() != '/') {
        o.status = 400;
        o.why = "the request target is not a path";
        return;
    }
    const dnsd::EdgeSet& edges = *st.edges;
    const dnsd::RedirectConfig& r = edges.redirects[route->redirect_index];
    const auto map_it = edges.maps.find(r.map);
    const dnsd::CompiledMap* map = nullptr;
    if (st.decisions && map_it != edges.maps.end()) {
        const auto index = static_cast<std::size_t>(std::distance(edges.maps.begin(), map_it));
        if (index < st.decisions->maps.size()) map = &st.decisions->maps[index];
    }
    const dnsd::ClientKey key{client, client.bits(), false};
    // The client's own family first (its path to the node), then the other.
    const common::Family first = client.is_v4() ? common::Family::kV4 : common::Family::kV6;
    const common::Family second = client.is_v4() ? common::Family::kV6 : common::Family::kV4;
    dnsd::Decision d = dnsd::decide(edges, r, map, first, key, health, rr_counter);
    if (d.nodes.empty()) d = dnsd::decide(edges, r, map, second, key, health, rr_counter);
    if (d.nodes.empty()) {
        o.status = 503;
        o.why = "no node can take this request";
        return;
    }
    const dnsd::EdgeNode& node = edges.nodes[d.nodes[0]];
    o.status = route->status ? route->status : st.config->status;
    o.location = node.http_base;
    // What is not ASCII (or is a control or space) is percent-encoded (RFC 3986 2.1).
    std::size_t clean = 0;
    for (std::size_t i = 0; i < target.size(); ++i) {
        const auto u = static_cast<unsigned char>(target[i]);
        if (u < 0x80 && u > ' ') continue;
        static constexpr char kHex[] = "0123456789ABCDEF";
        o.location.append(target.substr(clean, i - clean));
        o.location += '%';
        o.location += kHex[u >> 4];
        o.location += kHex[u & 15];
        clean = i + 1;
    }
    o.location.append(target.substr(clean));
    o.ttl = d.ttl;
    o.tier = d.tier;
    o.node = d.nodes[0];
}

}  // namespace signpost::redirectd
