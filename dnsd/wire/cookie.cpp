#include "dnsd/wire/cookie.hpp"

#include <sys/random.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <random>

#include "dnsd/wire/siphash.hpp"

namespace signpost::dnsd {
inline namespace wire {

namespace {
std::uint64_t tag(const std::uint8_t client[8], const std::uint8_t head[8],
                  const common::IpAddress& ip, const CookieSecret& secret) {
    std::uint8_t in[8 + 8 + 16];
    std::memcpy(in, client, 8);
    std::memcpy(in + 8, head, 8);
    std::memcpy(in + 16, ip.bytes(), ip.byte_len());
    return siphash24(secret.data(), in, 16 + ip.byte_len());
}
}  // namespace

void make_server_cookie(const std::uint8_t client[8], std::uint32_t timestamp,
                        const common::IpAddress& client_ip, const CookieSecret& secret,
                        std::uint8_t out[16]) {
    out[0] = 1;  // version
    out[1] = out[2] = out[3] = 0;
    for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(timestamp >> (24 - 8 * i));
    const std::uint64_t h = tag(client, out, client_ip, secret);
    for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<std::uint8_t>(h >> (8 * i));
}

namespace {
// The cookie's age in seconds if it is ours for this client, else INT32_MIN.
// Serial-number arithmetic (RFC 1982): the age may be negative (clock skew
// between a fleet's servers) by up to 5 minutes.
std::int32_t verified_age(const QueryCookie& q, const common::IpAddress& client_ip,
                          const CookieSecret& secret, std::uint32_t now) {
    if (!q.present || q.server_len != 16 || q.server[0] != 1) return INT32_MIN;
    const std::uint32_t ts = (std::uint32_t{q.server[4]} << 24) |
                             (std::uint32_t{q.server[5]} << 16) |
                             (std::uint32_t{q.server[6]} << 8) | q.server[7];
    const auto age = static_cast<std::int32_t>(now - ts);
    if (age < -300 || age > 3600) return INT32_MIN;
    std::uint64_t got = 0;
    for (int i = 7; i >= 0; --i) got = (got << 8) | q.server[8 + i];
    return got == tag(q.client, q.server, client_ip, secret) ? age : INT32_MIN;
}
}  // namespace

bool cookie_valid(const QueryCookie& q, const common::IpAddress& client_ip,
                  const CookieSecret& secret, std::uint32_t now) {
    return verified_age(q, client_ip, secret, now) != INT32_MIN;
}

void answer_cookie(const QueryCookie& q, const common::IpAddress& client_ip,
                   const CookieSecret& secret, std::uint32_t now, std::uint8_t out[16]) {
    const std::int32_t age = verified_age(q, client_ip, secret, now);
    if (age != INT32_MIN && age <= 1800) {  // under half an hour old: kept
        std::memcpy(out, q.server, 16);
        return;
    }
    make_server_cookie(q.client, now, client_ip, secret, out);
}

std::optional<CookieSecret> parse_cookie_secret(std::string_view hex) {
    if (hex.size() != 32) return std::nullopt;
    CookieSecret s{};
    for (std::size_t i = 0; i < 32; ++i) {
        const char c = hex[i];
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            return std::nullopt;
        }
        s[i / 2] = static_cast<std::uint8_t>(s[i / 2] << 4 | v);
    }
    return s;
}

const CookieSecret& process_cookie_secret() {
    static const CookieSecret secret = [] {
        CookieSecret s{};
        std::size_t got = 0;
        while (got < s.size()) {
            const ssize_t n = ::getrandom(s.data() + got, s.size() - got, 0);
            if (n > 0) {
                got += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EINTR) {
                std::random_device rd;  // getrandom unavailable: the C++ library's source
                for (; got < s.size(); ++got) s[got] = static_cast<std::uint8_t>(rd());
            }
        }
        return s;
    }();
    return secret;
}

}  // namespace wire
}  // namespace signpost::dnsd
