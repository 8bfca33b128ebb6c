#pragma once
// SipHash-2-4 (Aumasson and Bernstein), the keyed hash RFC 9018 uses for DNS
// server cookies: a 128-bit key, any input, a 64-bit tag. Written from the
// paper's description; the tests check the reference vectors.

#include <cstddef>
#include <cstdint>

namespace signpost::dnsd {
inline namespace wire {

inline std::uint64_t siphash24(const std::uint8_t key[16], const std::uint8_t* in,
                               std::size_t len) {
    auto load64 = [](const std::uint8_t* p) {
        std::uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // little-endian
        return v;
    };
    auto rotl = [](std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
    const std::uint64_t k0 = load64(key), k1 = load64(key + 8);
    std::uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL,
                  v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    const std::size_t full = len & ~std::size_t{7};
    for (std::size_t i = 0; i < full; i += 8) {
        const std::uint64_t m = load64(in + i);
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
    // The last block: the remaining bytes, and the length's low byte on top.
    std::uint64_t b = static_cast<std::uint64_t>(len) << 56;
    for (std::size_t i = 0; i < (len & 7); ++i) b |= std::uint64_t{in[full + i]} << (8 * i);
    v3 ^= b;
    round();
    round();
    v0 ^= b;
    v2 ^= 0xff;
    round();
    round();
    round();
    round();
    return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace wire
}  // namespace signpost::dnsd
