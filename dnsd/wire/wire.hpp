#pragma once
// DNS wire-format constants and a bounds-checked reader (RFC 1035 section 4).
// The reader has a sticky error: after the first read past the end every
// further read is a no-op returning zero, and the caller checks ok() once,
// the way Knot's wire_ctx does. It never throws and never allocates.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace signpost::dnsd {
inline namespace wire {

inline constexpr std::size_t kHeaderSize = 12;
// RFC 1035 2.3.4: a name is at most 255 octets in wire form, a label 63.
inline constexpr std::size_t kMaxNameLen = 255;
inline constexpr std::size_t kMaxLabelLen = 63;
// RFC 1035 4.2.1: without EDNS a UDP message is at most 512 octets.
inline constexpr std::size_t kMinUdpPayload = 512;
// The EDNS payload we advertise and honour at most: 1232 (DNS Flag Day 2020)
// fits the IPv6 minimum MTU with headers, so answers are never fragmented.
inline constexpr std::uint16_t kDefaultEdnsPayload = 1232;
// A TCP message is at most 65535 octets (RFC 1035 4.2.2 length prefix).
inline constexpr std::size_t kMaxMessage = 65535;

namespace type {
inline constexpr std::uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15,
                               TXT = 16, AAAA = 28, SRV = 33, OPT = 41, DS = 43, IXFR = 251,
                               AXFR = 252, ANY = 255, TSIG = 250;
}
namespace klass {
inline constexpr std::uint16_t IN = 1, CH = 3, NONE = 254, ANY = 255;
}
// Opcodes (RFC 1035 4.1.1, RFC 1996).
inline constexpr std::uint8_t kOpQuery = 0, kOpNotify = 4;
namespace rcode {
inline constexpr std::uint8_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4,
                              REFUSED = 5, NOTAUTH = 9;
inline constexpr std::uint16_t BADVERS = 16;  // extended (RFC 6891 6.1.3)
}  // namespace rcode
namespace flag {
// Second 16-bit header word.
inline constexpr std::uint16_t QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080,
                               AD = 0x0020, CD = 0x0010;
}  // namespace flag
// EDNS option codes.
inline constexpr std::uint16_t kOptionEcs = 8;      // RFC 7871
inline constexpr std::uint16_t kOptionNsid = 3;     // RFC 5001
inline constexpr std::uint16_t kOptionCookie = 10;  // RFC 7873

inline std::uint16_t load16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline void store16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

class WireReader {
  public:
    WireReader(const std::uint8_t* data, std::size_t len) : p_(data), len_(len) {}

    bool ok() const { return ok_; }
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return ok_ ? len_ - pos_ : 0; }
    const std::uint8_t* here() const { return p_ + pos_; }
    const std::uint8_t* data() const { return p_; }
    std::size_t size() const { return len_; }
    void fail() { ok_ = false; }

    std::uint8_t u8() {
        if (!need(1)) return 0;
        return p_[pos_++];
    }
    std::uint16_t u16() {
        if (!need(2)) return 0;
        auto v = load16(p_ + pos_);
        pos_ += 2;
        return v;
    }
    std::uint32_t u32() {
        if (!need(4)) return 0;
        std::uint32_t v = (std::uint32_t{p_[pos_]} << 24) | (std::uint32_t{p_[pos_ + 1]} << 16) |
                          (std::uint32_t{p_[pos_ + 2]} << 8) | p_[pos_ + 3];
        pos_ += 4;
        return v;
    }
    const std::uint8_t* bytes(std::size_t n) {
        if (!need(n)) return nullptr;
        const auto* b = p_ + pos_;
        pos_ += n;
        return b;
    }
    void skip(std::size_t n) { bytes(n); }

  private:
    bool need(std::size_t n) {
        if (!ok_ || len_ - pos_ < n) {
            ok_ = false;
            return false;
        }
        return true;
    }
    const std::uint8_t* p_;
    std::size_t len_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace wire
}  // namespace signpost::dnsd
