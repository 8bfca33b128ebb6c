#include "dnsd/wire/tsig.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstring>

namespace signpost::dnsd {
inline namespace wire {

namespace {

constexpr std::uint16_t kFudge = 300;

std::size_t name_len(const std::uint8_t* p) {
    std::size_t i = 0;
    while (p[i] != 0) i += p[i] + 1u;
    return i + 1;
}

// Lower-case wire form of a name already known to be uncompressed.
void put_lower_name(std::vector<std::uint8_t>& out, const std::uint8_t* p) {
    const std::size_t n = name_len(p);
    for (std::size_t i = 0; i < n;) {
        const std::uint8_t len = p[i];
        out.push_back(len);
        for (std::size_t k = 1; k <= len; ++k) {
            const std::uint8_t c = p[i + k];
            out.push_back(c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + 32) : c);
        }
        i += len + 1u;
    }
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}
void put48(std::vector<std::uint8_t>& out, std::uint64_t v) {
    for (int s = 40; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

std::vector<std::uint8_t> hmac(const TsigKey& key, const std::vector<std::uint8_t>& data) {
    std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
    std::size_t len = 0;
    if (!EVP_Q_mac(nullptr, "HMAC", nullptr, key.digest, nullptr, key.secret.data(),
                   key.secret.size(), data.data(), data.size(), out.data(), out.size(), &len))
        return {};
    out.resize(len);
    return out;
}

std::string text_to_lower_wire(const std::string& name) {
    std::string out;
    std::size_t start = 0;
    std::string n = name;
    if (!n.empty() && n.back() == '.') n.pop_back();
    while (start <= n.size() && !n.empty()) {
        const std::size_t dot = n.find('.', start);
        const std::string label =
            n.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (label.empty() || label.size() > 63) return {};
        out.push_back(static_cast<char>(label.size()));
        for (char c : label) out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    out.push_back('\0');
    return out.size() > 255 ? std::string() : out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(const std::string& s) {
    std::vector<std::uint8_t> out((s.size() / 4 + 1) * 3 + 3);
    std::string clean;
    for (char c : s)
        if (c != ' ' && c != '\n' && c != '\t') clean.push_back(c);
    if (clean.empty() || clean.size() % 4 != 0) return std::nullopt;
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                                  static_cast<int>(clean.size()));
    if (n < 0) return std::nullopt;
    std::size_t len = static_cast<std::size_t>(n);
    if (clean.size() >= 1 && clean.back() == '=') --len;
    if (clean.size() >= 2 && clean[clean.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

// The TSIG variables (RFC 8945 4.3.3) after a message, for `key`.
void put_variables(std::vector<std::uint8_t>& d, const TsigKey& key, std::uint64_t time_signed,
                   std::uint16_t fudge, std::uint16_t error, const std::uint8_t* other,
                   std::uint16_t other_len) {
    d.insert(d.end(), key.name_wire.begin(), key.name_wire.end());
    put16(d, 255);  // class ANY
    put16(d, 0);    // TTL
    put16(d, 0);
    d.insert(d.end(), key.algorithm_wire.begin(), key.algorithm_wire.end());
    put48(d, time_signed);
    put16(d, fudge);
    put16(d, error);
    put16(d, other_len);
    d.insert(d.end(), other, other + other_len);
}

// The record itself, appended to buf; 0 if it does not fit.
std::size_t append_record(std::uint8_t* buf, std::size_t len, std::size_t capacity,
                          const std::string& key_wire, const std::string& alg_wire,
                          std::uint64_t time_signed, const std::vector<std::uint8_t>& mac,
                          std::uint16_t original_id, std::uint16_t error,
                          const std::vector<std::uint8_t>& other) {
    std::vector<std::uint8_t> r(key_wire.begin(), key_wire.end());
    put16(r, type::TSIG);
    put16(r, 255);
    put16(r, 0);
    put16(r, 0);
    const std::size_t rdlen_at = r.size();
    put16(r, 0);
    r.insert(r.end(), alg_wire.begin(), alg_wire.end());
    put48(r, time_signed);
    put16(r, kFudge);
    put16(r, static_cast<std::uint16_t>(mac.size()));
    r.insert(r.end(), mac.begin(), mac.end());
    put16(r, original_id);
    put16(r, error);
    put16(r, static_cast<std::uint16_t>(other.size()));
    r.insert(r.end(), other.begin(), other.end());
    const std::size_t rdlen = r.size() - rdlen_at - 2;
    r[rdlen_at] = static_cast<std::uint8_t>(rdlen >> 8);
    r[rdlen_at + 1] = static_cast<std::uint8_t>(rdlen);
    if (len + r.size() > capacity) return 0;
    std::memcpy(buf + len, r.data(), r.size());
    store16(buf + 10, static_cast<std::uint16_t>(load16(buf + 10) + 1));
    return len + r.size();
}

}  // namespace

std::optional<TsigKey> make_tsig_key(const std::string& name, const std::string& algorithm,
                                     const std::string& secret_base64, std::string& error) {
    static const struct {
        const char* name;
        const char* digest;
        std::size_t size;
    } kAlgorithms[] = {{"hmac-sha1", "SHA1", 20},
                       {"hmac-sha224", "SHA224", 28},
                       {"hmac-sha256", "SHA256", 32},
                       {"hmac-sha384", "SHA384", 48},
                       {"hmac-sha512", "SHA512", 64}};
    TsigKey k;
    k.name = name;
    k.name_wire = text_to_lower_wire(name);
    if (k.name_wire.empty()) {
        error = "'" + name + "' is not a domain name";
        return std::nullopt;
    }
    for (const auto& a : kAlgorithms)
        if (algorithm == a.name) {
            k.algorithm = a.name;
            k.digest = a.digest;
            k.mac_size = a.size;
        }
    if (!k.digest) {
        error = "algorithm '" + algorithm +
                "' is not hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224 or hmac-sha1";
        return std::nullopt;
    }
    k.algorithm_wire = text_to_lower_wire(k.algorithm);
    auto secret = base64_decode(secret_base64);
    if (!secret || secret->empty()) {
        error = "secret is not base64";
        return std::nullopt;
    }
    k.secret = std::move(*secret);
    return k;
}

TsigCheck check_tsig(std::span<const std::uint8_t> packet, const Query& q,
                     const std::vector<const TsigKey*>& keys, std::uint64_t now) {
    TsigCheck c;
    std::vector<std::uint8_t> key_name, alg;
    put_lower_name(key_name, q.tsig.key_name());
    put_lower_name(alg, q.tsig.algorithm);
    for (const TsigKey* k : keys)
        if (std::equal(key_name.begin(), key_name.end(), k->name_wire.begin(),
                       k->name_wire.end()) &&
            std::equal(alg.begin(), alg.end(), k->algorithm_wire.begin(), k->algorithm_wire.end()))
            c.key = k;
    if (!c.key) {
        c.error = tsig_error::kBadKey;
        return c;
    }
    // The request as signed: without its TSIG, ARCOUNT one less, the original ID.
    std::vector<std::uint8_t> d(packet.begin(),
                                packet.begin() + static_cast<std::ptrdiff_t>(q.tsig.offset));
    store16(d.data(), q.tsig.original_id);
    store16(d.data() + 10, static_cast<std::uint16_t>(load16(d.data() + 10) - 1));
    const std::uint8_t* other = q.tsig.mac + q.tsig.mac_len + 6;
    const std::uint16_t other_len = load16(q.tsig.mac + q.tsig.mac_len + 4);
    put_variables(d, *c.key, q.tsig.time_signed, q.tsig.fudge, q.tsig.error, other, other_len);
    const auto mac = hmac(*c.key, d);
    // Full-length MACs only (RFC 8945 5.2.2.1 allows truncation; our peers never send it).
    if (mac.empty() || q.tsig.mac_len != mac.size() ||
        CRYPTO_memcmp(mac.data(), q.tsig.mac, mac.size()) != 0) {
        c.error = tsig_error::kBadSig;
        return c;
    }
    c.request_mac = mac;
    const std::uint64_t skew =
        now > q.tsig.time_signed ? now - q.tsig.time_signed : q.tsig.time_signed - now;
    if (skew > q.tsig.fudge) c.error = tsig_error::kBadTime;
    return c;
}

TsigSigner::TsigSigner(const TsigKey& key, std::vector<std::uint8_t> request_mac,
                       std::uint16_t error)
    : key_(key), prior_mac_(std::move(request_mac)), error_(error) {}

std::size_t TsigSigner::sign(std::uint8_t* buf, std::size_t len, std::size_t capacity,
                             std::uint64_t now, std::uint64_t time_signed) {
    if (time_signed == 0) time_signed = now;
    std::vector<std::uint8_t> d;
    put16(d, static_cast<std::uint16_t>(prior_mac_.size()));
    d.insert(d.end(), prior_mac_.begin(), prior_mac_.end());
    d.insert(d.end(), buf, buf + len);
    std::vector<std::uint8_t> other;
    if (error_ == tsig_error::kBadTime) put48(other, now);  // our time, for the client
    if (first_) {
        put_variables(d, key_, time_signed, kFudge, error_, other.data(),
                      static_cast<std::uint16_t>(other.size()));
    } else {
        put48(d, time_signed);
        put16(d, kFudge);
    }
    first_ = false;
    prior_mac_ = hmac(key_, d);
    return append_record(buf, len, capacity, key_.name_wire, key_.algorithm_wire, time_signed,
                         prior_mac_, load16(buf), error_, other);
}

std::size_t tsig_refusal(const Query& q, const TsigCheck& check, std::uint8_t* out,
                         std::size_t capacity, std::uint64_t now) {
    std::size_t n = kHeaderSize + q.question_len;
    if (capacity < n + 512) return 0;
    store16(out, q.id);
    store16(out + 2, static_cast<std::uint16_t>(0x8000 | (q.flags & 0x7900) | rcode::NOTAUTH));
    store16(out + 4, 1);
    std::memset(out + 6, 0, 6);
    std::memcpy(out + kHeaderSize, q.question, q.question_len);
    if (check.error == tsig_error::kBadTime && check.key) {
        TsigSigner s(*check.key, check.request_mac, check.error);
        return s.sign(out, n, capacity, now, q.tsig.time_signed);
    }
    return append_unsigned_tsig(out, n, capacity, q, check.error, now);
}

std::size_t tsig_size(const TsigKey& key) {
    // Owner, type, class, TTL, rdlength; algorithm, time, fudge, MAC length,
    // MAC, original ID, error, other length, other (a BADTIME's 6 octets).
    return key.name_wire.size() + 10 + key.algorithm_wire.size() + 10 + key.mac_size + 6 + 6;
}

std::size_t sign_request(std::uint8_t* buf, std::size_t len, std::size_t capacity,
                         const TsigKey& key, std::uint64_t now, std::vector<std::uint8_t>& mac) {
    std::vector<std::uint8_t> d(buf, buf + len);
    put_variables(d, key, now, kFudge, 0, nullptr, 0);
    mac = hmac(key, d);
    if (mac.empty()) return 0;
    return append_record(buf, len, capacity, key.name_wire, key.algorithm_wire, now, mac,
                         load16(buf), 0, {});
}

bool TsigVerifier::verify(std::span<const std::uint8_t> m, std::uint64_t now, std::string& error) {
    // Find the last record: a TSIG ends the additional section when present.
    WireReader r(m.data(), m.size());
    r.skip(4);
    const std::uint16_t qd = r.u16(), an = r.u16(), ns = r.u16(), ar = r.u16();
    for (unsigned i = 0; i < qd && r.ok(); ++i) {
        if (!skip_name(r)) break;
        r.skip(4);
    }
    std::size_t last = 0;
    std::uint16_t last_type = 0;
    for (unsigned i = 0; i < unsigned{an} + ns + ar && r.ok(); ++i) {
        last = r.pos();
        if (!skip_name(r)) break;
        last_type = r.u16();
        r.skip(6);
        r.skip(r.u16());
    }
    if (!r.ok() || r.remaining() != 0) {
        error = "malformed message";
        return false;
    }
    if (ar == 0 || last_type != type::TSIG) {
        if (first_) {
            error = "the answer is not signed (TSIG key " + key_.name + ")";
            return false;
        }
        if (++unsigned_ > 99) {
            error = "more than 99 unsigned messages in a row (RFC 8945 5.3.1)";
            return false;
        }
        pending_.insert(pending_.end(), m.begin(), m.end());
        return true;
    }
    // The TSIG record: key name and algorithm uncompressed, then the fields.
    const std::uint8_t* p = m.data() + last;
    const std::size_t n = m.size() - last;
    std::vector<std::uint8_t> name, alg;
    std::size_t at = 0;
    auto plain = [&](std::vector<std::uint8_t>& out) {
        while (at < n && p[at] != 0 && p[at] < 64 && at + p[at] + 1 < n) {
            out.push_back(p[at]);
            for (std::size_t k = 1; k <= p[at]; ++k)
                out.push_back(p[at + k] >= 'A' && p[at + k] <= 'Z' ? p[at + k] + 32 : p[at + k]);
            at += p[at] + 1u;
        }
        if (at >= n || p[at] != 0) return false;
        out.push_back(0);
        ++at;
        return true;
    };
    if (!plain(name) || at + 10 > n) {
        error = "malformed TSIG record";
        return false;
    }
    at += 10;  // type, class, TTL, rdlength
    if (!plain(alg) || at + 10 > n) {
        error = "malformed TSIG record";
        return false;
    }
    std::uint64_t time_signed = 0;
    for (int k = 0; k < 6; ++k) time_signed = (time_signed << 8) | p[at + k];
    const std::uint16_t fudge = load16(p + at + 6), mac_len = load16(p + at + 8);
    at += 10;
    if (at + mac_len + 6 > n) {
        error = "malformed TSIG record";
        return false;
    }
    const std::uint8_t* mac = p + at;
    const std::uint16_t original_id = load16(p + at + mac_len), rc = load16(p + at + mac_len + 2);
    const std::uint16_t other_len = load16(p + at + mac_len + 4);
    if (at + mac_len + 6 + other_len != n) {
        error = "malformed TSIG record";
        return false;
    }
    if (!std::equal(name.begin(), name.end(), key_.name_wire.begin(), key_.name_wire.end()) ||
        !std::equal(alg.begin(), alg.end(), key_.algorithm_wire.begin(),
                    key_.algorithm_wire.end())) {
        error = "signed with another key than " + key_.name;
        return false;
    }
    if (rc != tsig_error::kNone) {
        error = std::string("the server answered TSIG error ") +
                (rc == tsig_error::kBadSig    ? "BADSIG (is the secret the same?)"
                 : rc == tsig_error::kBadKey  ? "BADKEY (does it know the key?)"
                 : rc == tsig_error::kBadTime ? "BADTIME (are the clocks in step?)"
                                              : std::to_string(rc));
        return false;
    }
    std::vector<std::uint8_t> d;
    put16(d, static_cast<std::uint16_t>(prior_mac_.size()));
    d.insert(d.end(), prior_mac_.begin(), prior_mac_.end());
    d.insert(d.end(), pending_.begin(), pending_.end());
    const std::size_t msg_at = d.size();  // this message, after the unsigned ones before it
    d.insert(d.end(), m.begin(), m.begin() + static_cast<std::ptrdiff_t>(last));
    store16(d.data() + msg_at, original_id);
    store16(d.data() + msg_at + 10, static_cast<std::uint16_t>(ar - 1));
    if (first_) {
        put_variables(d, key_, time_signed, fudge, rc, p + at + mac_len + 6, other_len);
    } else {
        put48(d, time_signed);
        put16(d, fudge);
    }
    const auto want = hmac(key_, d);
    if (want.empty() || want.size() != mac_len || CRYPTO_memcmp(want.data(), mac, mac_len) != 0) {
        error = "bad TSIG signature from the server (key " + key_.name + ")";
        return false;
    }
    const std::uint64_t skew = now > time_signed ? now - time_signed : time_signed - now;
    if (skew > fudge) {
        error = "the server's TSIG time is " + std::to_string(skew) + " s off (fudge " +
                std::to_string(fudge) + " s)";
        return false;
    }
    prior_mac_ = want;
    pending_.clear();
    unsigned_ = 0;
    first_ = false;
    return true;
}

std::size_t append_unsigned_tsig(std::uint8_t* buf, std::size_t len, std::size_t capacity,
                                 const Query& q, std::uint16_t error, std::uint64_t now) {
    std::vector<std::uint8_t> key, alg;
    put_lower_name(key, q.tsig.key_name());
    put_lower_name(alg, q.tsig.algorithm);
    return append_record(buf, len, capacity, std::string(key.begin(), key.end()),
                         std::string(alg.begin(), alg.end()), now, {}, q.tsig.original_id, error,
                         {});
}

}  // namespace wire
}  // namespace signpost::dnsd
