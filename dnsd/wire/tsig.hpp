#pragma once
// TSIG (RFC 8945): HMAC-signed messages between dnsd and the secondaries it
// transfers zones to. A request's MAC is checked against the keys the zone
// allows; every message of the answer is signed, each MAC chained to the one
// before (RFC 8945 5.3.1), so a transfer cannot be cut or spliced unnoticed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dnsd/wire/query.hpp"

namespace signpost::dnsd {
inline namespace wire {

namespace tsig_error {
inline constexpr std::uint16_t kNone = 0, kBadSig = 16, kBadKey = 17, kBadTime = 18;
}

struct TsigKey {
    std::string name;       // as configured, "xfr.example."
    std::string name_wire;  // lower-case wire form
    std::string algorithm;  // "hmac-sha256"
    std::string algorithm_wire;
    const char* digest = nullptr;  // OpenSSL's name: "SHA256"
    std::size_t mac_size = 0;
    std::vector<std::uint8_t> secret;
};

// "hmac-sha256" (also -sha1, -sha224, -sha384, -sha512) and a base64 secret;
// nullopt with `error` otherwise.
std::optional<TsigKey> make_tsig_key(const std::string& name, const std::string& algorithm,
                                     const std::string& secret_base64, std::string& error);

struct TsigCheck {
    std::uint16_t error = tsig_error::kNone;  // kNone: signed by `key`, in time
    const TsigKey* key = nullptr;             // the key named (even when the MAC is wrong)
    std::vector<std::uint8_t> request_mac;    // to chain the answer's MAC to
};
// Checks the TSIG of `packet` (parsed into q; q.tsig.present) against
// `keys`, at `now` (Unix seconds).
TsigCheck check_tsig(std::span<const std::uint8_t> packet, const Query& q,
                     const std::vector<const TsigKey*>& keys, std::uint64_t now);

// Signs the messages of one answer, in order: the first with the request's
// MAC and every TSIG variable, the next ones chained to the MAC before and
// signed over the timers only. `error` (BADSIG, BADKEY) writes an unsigned
// TSIG record carrying the error, as RFC 8945 5.3.2 says.
class TsigSigner {
  public:
    TsigSigner(const TsigKey& key, std::vector<std::uint8_t> request_mac, std::uint16_t error = 0);
    // Appends the TSIG record to the message in buf[0, len) (ARCOUNT + 1);
    // returns the new length, 0 if it does not fit in `capacity`.
    // `time_signed`: 0, now; a BADTIME answer gives the request's (its
    // Other Data then carries `now`, RFC 8945 5.2.3).
    std::size_t sign(std::uint8_t* buf, std::size_t len, std::size_t capacity, std::uint64_t now,
                     std::uint64_t time_signed = 0);

  private:
    const TsigKey& key_;
    std::vector<std::uint8_t> prior_mac_;
    std::uint16_t error_;
    bool first_ = true;
};

// The client side (dnsd as a secondary): signs a request (SOA query, IXFR,
// AXFR) in buf[0, len); returns the new length (0: no room) and the MAC the
// answer's is chained to.
std::size_t sign_request(std::uint8_t* buf, std::size_t len, std::size_t capacity,
                         const TsigKey& key, std::uint64_t now, std::vector<std::uint8_t>& mac);

// Checks the messages of an answer to a signed request, in order: the first
// must be signed; later ones may go unsigned (at most 99 in a row, RFC 8945
// 5.3.1), each signed one covering the unsigned ones before it.
class TsigVerifier {
  public:
    TsigVerifier(const TsigKey& key, std::vector<std::uint8_t> request_mac)
        : key_(key), prior_mac_(std::move(request_mac)) {}
    // false with `error` if the message is not signed as it must be.
    bool verify(std::span<const std::uint8_t> message, std::uint64_t now, std::string& error);
    // The last message verified was signed: a transfer may end here.
    bool last_signed() const { return unsigned_ == 0 && !first_; }

  private:
    const TsigKey& key_;
    std::vector<std::uint8_t> prior_mac_;
    std::vector<std::uint8_t> pending_;  // unsigned messages since the last signed one
    unsigned unsigned_ = 0;
    bool first_ = true;
};

// The answer to a request whose TSIG failed `check`: NOTAUTH with the
// question and a TSIG record carrying the error, unsigned for BADKEY and
// BADSIG, signed for BADTIME (RFC 8945 5.2.2, 5.2.3). Its length, into out.
std::size_t tsig_refusal(const Query& q, const TsigCheck& check, std::uint8_t* out,
                         std::size_t capacity, std::uint64_t now);

// The room a TSIG record signed with `key` takes in a message.
std::size_t tsig_size(const TsigKey& key);

// An unsigned answer to a TSIG request with an unknown key or a bad MAC:
// the TSIG record names the key and carries the error (no MAC).
std::size_t append_unsigned_tsig(std::uint8_t* buf, std::size_t len, std::size_t capacity,
                                 const Query& q, std::uint16_t error, std::uint64_t now);

}  // namespace wire
}  // namespace signpost::dnsd
