#include "common/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace signpost::common {

IpAddress IpAddress::v4(std::uint32_t host_order) {
    IpAddress a;
    a.family_ = Family::kV4;
    a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes_[3] = static_cast<std::uint8_t>(host_order);
    return a;
}

IpAddress IpAddress::from_bytes(Family family, const std::uint8_t* bytes) {
    IpAddress a;
    a.assign(family, bytes, family == Family::kV4 ? 4 : 16);
    return a;
}

namespace {
// Dotted-quad IPv4, as strict as inet_pton: four decimal octets 0..255, no
// leading zeros, nothing else. Written out because it runs once per geoipd
// request and glibc's version is several times slower.
bool parse_v4(std::string_view t, std::uint8_t* out) {
    const char* p = t.data();
    const char* const end = p + t.size();
    auto digit = [&](unsigned& d) {
        return p != end && (d = static_cast<unsigned char>(*p) - unsigned{'0'}) <= 9;
    };
    for (int part = 0; part < 4; ++part) {
        unsigned v, d;
        if (!digit(v)) return false;
        ++p;
        if (digit(d)) {
            if (v == 0) return false;  // a leading zero
            v = v * 10 + d;
            ++p;
            if (digit(d)) {
                v = v * 10 + d;
                ++p;
                if (v > 255 || digit(d)) return false;
            }
        }
        out[part] = static_cast<std::uint8_t>(v);
        if (part < 3) {
            if (p == end || *p != '.') return false;
            ++p;
        }
    }
    return p == end;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 4291 section 2.2 text, accepting exactly what glibc's inet_pton
// accepts (a unit test compares them): groups of one to four hex digits, at
// most one "::" standing for one or more zero groups, and optionally dotted
// IPv4 (no leading zeros) as the last 32 bits. Written out for the same
// reason as parse_v4.
bool parse_v6(std::string_view t, std::uint8_t* out) {
    std::uint16_t g[8];
    int n = 0, gap = -1;
    std::size_t i = 0;
    if (t.size() >= 2 && t[0] == ':' && t[1] == ':') {
        gap = 0;
        i = 2;
    } else if (!t.empty() && t[0] == ':') {
        return false;
    }
    while (i < t.size()) {
        if (n == 8) return false;
        const std::size_t start = i;
        unsigned v = 0;
        int h;
        while (i < t.size() && i - start < 5 && (h = hex_value(t[i])) >= 0) {
            v = v * 16 + static_cast<unsigned>(h);
            ++i;
        }
        if (i == start || i - start > 4) return false;
        if (i < t.size() && t[i] == '.') {
            std::uint8_t b[4];
            if (n > 6 || !parse_v4(t.substr(start), b)) return false;
            g[n++] = static_cast<std::uint16_t>((b[0] << 8) | b[1]);
            g[n++] = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
            i = t.size();
            break;
        }
        g[n++] = static_cast<std::uint16_t>(v);
        if (i == t.size()) break;
        if (t[i] != ':' || ++i == t.size()) return false;  // a lone trailing ':'
        if (t[i] == ':') {
            if (gap >= 0) return false;
            gap = n;
            ++i;
        }
    }
    if (gap < 0 ? n != 8 : n > 7) return false;
    std::memset(out, 0, 16);
    const int tail = gap < 0 ? 0 : n - gap;  // groups after the "::"
    const int head = n - tail;
    for (int k = 0; k < head; ++k) {
        out[2 * k] = static_cast<std::uint8_t>(g[k] >> 8);
        out[2 * k + 1] = static_cast<std::uint8_t>(g[k]);
    }
    for (int k = 0; k < tail; ++k) {
        const int at = 8 - tail + k;
        out[2 * at] = static_cast<std::uint8_t>(g[head + k] >> 8);
        out[2 * at + 1] = static_cast<std::uint8_t>(g[head + k]);
    }
    return true;
}

// Decimal text of every octet, padded to four bytes: one copy, no divisions
// or branches on the value (the buffer always has room for the padding).
struct OctetText {
    char text[4];
    std::uint8_t len;
};
constexpr std::array<OctetText, 256> kOctets = [] {
    std::array<OctetText, 256> t{};
    for (unsigned v = 0; v < 256; ++v) {
        unsigned n = 0;
        if (v >= 100) t[v].text[n++] = static_cast<char>('0' + v / 100);
        if (v >= 10) t[v].text[n++] = static_cast<char>('0' + v / 10 % 10);
        t[v].text[n++] = static_cast<char>('0' + v % 10);
        t[v].len = static_cast<std::uint8_t>(n);
    }
    return t;
}();

char* put_v4(char* p, const std::uint8_t* b) {
    for (int i = 0; i < 4; ++i) {
        std::memcpy(p, kOctets[b[i]].text, 4);
        p += kOctets[b[i]].len;
        *p = '.';
        p += i < 3;
    }
    return p;
}

// RFC 5952: lower-case hex without leading zeros, the longest run of two or
// more zero groups (the first, on a tie) as "::". Like glibc, ::ffff:a.b.c.d
// and ::a.b.c.d (but not :: or ::1) end in dotted IPv4.
char* put_v6(char* p, const std::uint8_t* b) {
    static constexpr char kHex[] = "0123456789abcdef";
    unsigned w[8];
    for (int i = 0; i < 8; ++i) w[i] = (static_cast<unsigned>(b[2 * i]) << 8) | b[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (w[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && w[j] == 0) ++j;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) best = -1;
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            *p++ = ':';
            if (i == 0) *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
            return put_v4(p, b + 12);
        }
        unsigned v = w[i];
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nib = (v >> shift) & 0xf;
            if (nib || started || shift == 0) {
                *p++ = kHex[nib];
                started = true;
            }
        }
        if (i != 7) *p++ = ':';
    }
    return p;
}
}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.empty() || text.size() >= kMaxText) return std::nullopt;
    IpAddress a;
    // IPv4 first: it is most requests, and text that is not IPv4 fails it
    // within a few characters.
    if (parse_v4(text, a.bytes_.data())) {
        a.family_ = Family::kV4;
        return a;
    }
    if (!parse_v6(text, a.bytes_.data())) return std::nullopt;
    a.family_ = Family::kV6;
    return a;
}

bool IpAddress::assign_sockaddr(const sockaddr* sa) {
    // The address octets read in place (octet access may alias anything).
    const auto* p = reinterpret_cast<const std::uint8_t*>(sa);
    if (sa->sa_family == AF_INET) {
        assign(Family::kV4, p + offsetof(sockaddr_in, sin_addr), 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        assign(Family::kV6, p + offsetof(sockaddr_in6, sin6_addr), 16);
        return true;
    }
    return false;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
    IpAddress a;
    if (!a.assign_sockaddr(sa)) return std::nullopt;
    return a;
}

IpAddress IpAddress::unmapped() const {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (is_v4() || std::memcmp(bytes_.data(), kMapped, 12) != 0) return *this;
    return from_bytes(Family::kV4, bytes_.data() + 12);
}

IpAddress IpAddress::masked(unsigned len) const {
    IpAddress a = *this;
    if (len >= bits()) return a;
    // Two big-endian words: a mask each, no loop over bytes.
    std::uint64_t w[2];
    std::memcpy(w, a.bytes_.data(), 16);
    for (unsigned k = 0; k < 2; ++k) {
        const unsigned keep = len > 64 * k ? std::min(len - 64 * k, 64u) : 0u;
        const std::uint64_t mask = keep == 0 ? 0 : ~std::uint64_t{0} << (64 - keep);
        w[k] = __builtin_bswap64(__builtin_bswap64(w[k]) & mask);
    }
    std::memcpy(a.bytes_.data(), w, 16);
    return a;
}

std::size_t IpAddress::format(char* out) const {
    char* end = is_v4() ? put_v4(out, bytes_.data()) : put_v6(out, bytes_.data());
    *end = '\0';
    return static_cast<std::size_t>(end - out);
}

std::string IpAddress::to_string() const {
    char buf[kMaxText];
    return std::string(buf, format(buf));
}

unsigned IpAddress::to_sockaddr(sockaddr_storage* ss) const {
    std::memset(ss, 0, sizeof *ss);
    if (is_v4()) {
        auto* sin = reinterpret_cast<sockaddr_in*>(ss);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, bytes_.data(), 4);
        return sizeof(sockaddr_in);
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, bytes_.data(), 16);
    return sizeof(sockaddr_in6);
}

Prefix::Prefix(const IpAddress& addr, unsigned len) {
    len_ = static_cast<std::uint8_t>(len > addr.bits() ? addr.bits() : len);
    addr_ = addr.masked(len_);
}

std::optional<Prefix> Prefix::parse(std::string_view text, bool strict) {
    const auto slash = text.find('/');
    const auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    unsigned len = addr->bits();
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        // At most three digits, no sign, no leading '+': "/0" .. "/128".
        if (digits.empty() || digits.size() > 3) return std::nullopt;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
        if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
        if (len > addr->bits()) return std::nullopt;
    }
    Prefix p(*addr, len);
    if (strict && p.addr_ != *addr) return std::nullopt;
    return p;
}

bool Prefix::contains(const IpAddress& a) const {
    return a.family() == addr_.family() && a.masked(len_) == addr_;
}

bool Prefix::contains(const Prefix& p) const {
    return p.len_ >= len_ && contains(p.addr_);
}

std::size_t Prefix::format(char* out) const {
    std::size_t n = addr_.format(out);
    out[n++] = '/';
    auto [end, ec] = std::to_chars(out + n, out + n + 3, static_cast<unsigned>(len_));
    (void)ec;
    *end = '\0';
    return static_cast<std::size_t>(end - out);
}

std::string Prefix::to_string() const {
    char buf[kMaxText];
    return std::string(buf, format(buf));
}

std::optional<HostPort> parse_host_port(std::string_view text) {
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (port.empty() || port.size() > 5) return std::nullopt;
    unsigned p = 0;
    for (char c : port) {
        if (c < '0' || c > '9') return std::nullopt;
        p = p * 10 + static_cast<unsigned>(c - '0');
    }
    const auto a = IpAddress::parse(host);
    if (!a || p > 65535) return std::nullopt;
    return HostPort{*a, static_cast<std::uint16_t>(p)};
}

}  // namespace signpost::common
