#pragma once
// DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018): a
// client that sends its cookie gets ours back, made from its cookie, its
// address, the time and a secret an anycast fleet can share, so any of the
// fleet's servers (of any make following RFC 9018) accepts what another gave.
// dnsd answers cookies but never demands them (no BADCOOKIE).

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/ip_address.hpp"

namespace signpost::dnsd {
inline namespace wire {

using CookieSecret = std::array<std::uint8_t, 16>;

// The cookie option of a query, as received.
struct QueryCookie {
    bool present = false;
    std::uint8_t client[8];
    std::uint8_t server[32];
    std::uint8_t server_len = 0;  // 0, or 8..32
};

// RFC 9018 4.2: version 1, reserved 0, timestamp, SipHash-2-4 tag of
// (client cookie | version | reserved | timestamp | client address).
void make_server_cookie(const std::uint8_t client[8], std::uint32_t timestamp,
                        const common::IpAddress& client_ip, const CookieSecret& secret,
                        std::uint8_t out[16]);

// The server cookie to send back for `q` at `now` (seconds since the epoch):
// the client's own copy when it is ours, valid and under half an hour old
// (RFC 9018 4.3), else a new one.
void answer_cookie(const QueryCookie& q, const common::IpAddress& client_ip,
                   const CookieSecret& secret, std::uint32_t now, std::uint8_t out[16]);

// Whether the query's server cookie is one we made for this client (RFC 9018
// 4.3: version 1, the tag verifies, issued within the last hour and not over
// 5 minutes ahead): then the client's address is not forged.
bool cookie_valid(const QueryCookie& q, const common::IpAddress& client_ip,
                  const CookieSecret& secret, std::uint32_t now);

// 32 hexadecimal digits (either case) as a secret; nullopt if not exactly that.
std::optional<CookieSecret> parse_cookie_secret(std::string_view hex);

// A secret for a server not given one: random, the same for the process's life.
const CookieSecret& process_cookie_secret();

}  // namespace wire
}  // namespace signpost::dnsd
