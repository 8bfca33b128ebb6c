#include "common/ip_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
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
    a.family_ = family;
    std::memcpy(a.bytes_.data(), bytes, family == Family::kV4 ? 4 : 16);
    return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.empty() || text.size() >= kMaxText) return std::nullopt;
    char buf[kMaxText];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddress a;
    if (text.find(':') == std::string_view::npos) {
        if (inet_pton(AF_INET, buf, a.bytes_.data()) != 1) return std::nullopt;
        a.family_ = Family::kV4;
    } else {
        if (inet_pton(AF_INET6, buf, a.bytes_.data()) != 1) return std::nullopt;
        a.family_ = Family::kV6;
    }
    return a;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr* sa) {
    if (sa->sa_family == AF_INET) {
        sockaddr_in sin;
        std::memcpy(&sin, sa, sizeof sin);
        return from_bytes(Family::kV4, reinterpret_cast<const std::uint8_t*>(&sin.sin_addr));
    }
    if (sa->sa_family == AF_INET6) {
        sockaddr_in6 sin6;
        std::memcpy(&sin6, sa, sizeof sin6);
        return from_bytes(Family::kV6, reinterpret_cast<const std::uint8_t*>(&sin6.sin6_addr));
    }
    return std::nullopt;
}

IpAddress IpAddress::unmapped() const {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (is_v4() || std::memcmp(bytes_.data(), kMapped, 12) != 0) return *this;
    return from_bytes(Family::kV4, bytes_.data() + 12);
}

IpAddress IpAddress::masked(unsigned len) const {
    IpAddress a = *this;
    const unsigned width = bits();
    if (len >= width) return a;
    const unsigned full = len / 8;
    const unsigned rem = len % 8;
    std::size_t i = full;
    if (rem != 0) {
        a.bytes_[i] &= static_cast<std::uint8_t>(0xff00u >> rem);
        ++i;
    }
    for (; i < 16; ++i) a.bytes_[i] = 0;
    return a;
}

std::size_t IpAddress::format(char* out) const {
    if (!inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), out, kMaxText)) {
        out[0] = '\0';
        return 0;
    }
    return std::strlen(out);
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

}  // namespace signpost::common
