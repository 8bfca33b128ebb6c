#pragma once
// One address type and one prefix type for IPv4 and IPv6, so that no function
// ever needs a v4 twin and a v6 twin (DESIGN.md, "One code path").

#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;
struct sockaddr_storage;

namespace signpost::common {

enum class Family : std::uint8_t { kV4 = 4, kV6 = 6 };

class IpAddress {
  public:
    // Longest textual form: a full IPv6 address with an embedded IPv4 tail
    // ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") is 45 characters; 46 with NUL.
    static constexpr std::size_t kMaxText = 46;

    IpAddress() = default;
    static IpAddress v4(std::uint32_t host_order);
    static IpAddress from_bytes(Family family, const std::uint8_t* bytes);
    // In place: `family` with its first n octets (at most its width) from
    // `bytes` and the rest zero. On the query path this saves building an
    // address on the stack and copying it with a wide load over the narrow
    // stores that just filled it (a store-forwarding stall).
    void assign(Family family, const std::uint8_t* bytes, std::size_t n) {
        assert(n <= (family == Family::kV4 ? 4u : 16u));
        family_ = family;
        bytes_ = {};
        std::memcpy(bytes_.data(), bytes, n);
    }

    // Strict parse of dotted-quad IPv4 or RFC 4291 IPv6 text. Leading zeros in an
    // IPv4 octet are refused (inet_pton does so), because "010" is octal to some tools.
    static std::optional<IpAddress> parse(std::string_view text);
    // From a socket address (AF_INET or AF_INET6); IPv4-mapped IPv6 stays IPv6.
    static std::optional<IpAddress> from_sockaddr(const sockaddr* sa);
    // The same in place; false (and unchanged) for another family.
    bool assign_sockaddr(const sockaddr* sa);

    Family family() const { return family_; }
    bool is_v4() const { return family_ == Family::kV4; }
    unsigned bits() const { return is_v4() ? 32 : 128; }
    const std::uint8_t* bytes() const { return bytes_.data(); }
    std::size_t byte_len() const { return is_v4() ? 4 : 16; }

    // ::ffff:a.b.c.d -> a.b.c.d; other addresses unchanged. Geo databases and
    // operators both think of a mapped address as the IPv4 address it carries.
    IpAddress unmapped() const;
    bool bit(unsigned i) const { return (bytes_[i / 8] >> (7 - i % 8)) & 1; }
    // The address with every bit from `len` on cleared.
    IpAddress masked(unsigned len) const;

    // Writes the canonical text (RFC 5952 for IPv6) and returns its length.
    std::size_t format(char* out) const;
    std::string to_string() const;
    // Fills a sockaddr_in / sockaddr_in6 (port 0) and returns its length.
    unsigned to_sockaddr(sockaddr_storage* ss) const;

    // Written out: the defaulted one compares the octets with a memcmp call
    // (they sit at offset 1, so GCC does not inline it), and the query path
    // compares addresses per query.
    friend bool operator==(const IpAddress& a, const IpAddress& b) {
        std::uint64_t a0, a1, b0, b1;
        std::memcpy(&a0, a.bytes_.data(), 8);
        std::memcpy(&a1, a.bytes_.data() + 8, 8);
        std::memcpy(&b0, b.bytes_.data(), 8);
        std::memcpy(&b1, b.bytes_.data() + 8, 8);
        return a.family_ == b.family_ && ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

  private:
    Family family_ = Family::kV4;
    std::array<std::uint8_t, 16> bytes_{};
};

// A network: an address with every host bit cleared, and its length.
class Prefix {
  public:
    static constexpr std::size_t kMaxText = IpAddress::kMaxText + 4;

    Prefix() = default;
    // Clears the host bits of `addr`; `len` is clamped to the family's width.
    Prefix(const IpAddress& addr, unsigned len);
    // "a.b.c.d/n", "x::/n", or a bare address (a host prefix). With `strict`,
    // host bits set past the length are an error rather than silently cleared.
    static std::optional<Prefix> parse(std::string_view text, bool strict = false);

    const IpAddress& address() const { return addr_; }
    unsigned length() const { return len_; }
    Family family() const { return addr_.family(); }
    bool contains(const IpAddress& a) const;
    bool contains(const Prefix& p) const;

    std::size_t format(char* out) const;
    std::string to_string() const;

    friend bool operator==(const Prefix&, const Prefix&) = default;
    friend auto operator<=>(const Prefix&, const Prefix&) = default;

  private:
    IpAddress addr_;
    std::uint8_t len_ = 0;
};

// "192.0.2.1:53" or "[2001:db8::1]:53": the address and port; nullopt for
// anything else (a missing or out-of-range port, a bare IPv6 address).
struct HostPort {
    IpAddress address;
    std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace signpost::common
