#pragma once
// Small non-cryptographic hashes used on hot paths (hash tables, rendezvous
// hashing). Not for anything an attacker must not predict.

#include <cstdint>
#include <string_view>

namespace signpost::common {

// splitmix64's finaliser: every input bit affects every output bit, so it is
// safe for power-of-two and prime-modulo tables alike.
inline std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// FNV-1a over bytes: cheap for short keys such as DNS names and node names.
inline std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
}

}  // namespace signpost::common
