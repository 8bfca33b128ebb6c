#include "dnsd/cookie.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "common/siphash.hpp"

namespace signpost::dnsd {

namespace {
std::uint64_t tag(const std::uint8_t client[8], const std::uint8_t head[8],
                  const common::IpAddress& ip, const CookieSecret& secret) {
    std::uint8_t in[8 + 8 + 16];
    std::memcpy(in, client, 8);
    std::memcpy(in + 8, head, 8);
    std::memcpy(in + 16, ip.bytes(), ip.byte_len());
    return common::siphash24(secret.data(), in, 16 + ip.byte_len());
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

void answer_cookie(const QueryCookie& q, const common::IpAddress& client_ip,
                   const CookieSecret& secret, std::uint32_t now, std::uint8_t out[16]) {
    if (q.server_len == 16 && q.server[0] == 1) {
        const std::uint32_t ts = (std::uint32_t{q.server[4]} << 24) |
                                 (std::uint32_t{q.server[5]} << 16) |
                                 (std::uint32_t{q.server[6]} << 8) | q.server[7];
        // Serial-number arithmetic (RFC 1982): the age may be negative (clock skew
        // between the fleet's servers) by up to 5 minutes.
        const auto age = static_cast<std::int32_t>(now - ts);
        std::uint64_t got = 0;
        for (int i = 7; i >= 0; --i) got = (got << 8) | q.server[8 + i];
        if (age >= -300 && age <= 1800 && got == tag(q.client, q.server, client_ip, secret)) {
            std::memcpy(out, q.server, 16);
            return;
        }
    }
    make_server_cookie(q.client, now, client_ip, secret, out);
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

}  // namespace signpost::dnsd
