#pragma once
// Writes a response into a fixed buffer: no allocation, a hard size limit
// (the client's UDP payload size, or 64 KiB on TCP) and name compression
// (RFC 1035 4.1.4) against names already in the message. Overflow is sticky:
// the caller checks overflowed() once and answers with TC=1 instead.

#include <cstddef>
#include <cstdint>
#include <span>

#include "dnsd/wire/wire.hpp"

namespace signpost::dnsd {
inline namespace wire {

class Writer {
  public:
    Writer(std::uint8_t* buf, std::size_t limit) : buf_(buf), limit_(limit) {}

    std::size_t size() const { return pos_; }
    bool overflowed() const { return overflow_; }
    std::uint8_t* data() { return buf_; }
    std::size_t limit() const { return limit_; }

    void u8(std::uint8_t v) {
        if (room(1)) buf_[pos_++] = v;
    }
    void u16(std::uint16_t v) {
        if (room(2)) {
            store16(buf_ + pos_, v);
            pos_ += 2;
        }
    }
    void u32(std::uint32_t v) {
        if (room(4)) {
            buf_[pos_] = static_cast<std::uint8_t>(v >> 24);
            buf_[pos_ + 1] = static_cast<std::uint8_t>(v >> 16);
            buf_[pos_ + 2] = static_cast<std::uint8_t>(v >> 8);
            buf_[pos_ + 3] = static_cast<std::uint8_t>(v);
            pos_ += 4;
        }
    }
    void bytes(const std::uint8_t* p, std::size_t n) {
        if (room(n)) {
            std::memcpy(buf_ + pos_, p, n);
            pos_ += n;
        }
    }
    // Room for n octets at the end, for the caller to fill (its stores go
    // straight to the message); nullptr, and overflowed, when they do not fit.
    std::uint8_t* reserve(std::size_t n) {
        if (!room(n)) return nullptr;
        std::uint8_t* p = buf_ + pos_;
        pos_ += n;
        return p;
    }
    void patch16(std::size_t at, std::uint16_t v) { store16(buf_ + at, v); }
    // Changes the size limit (e.g. to reserve room for the OPT record and then
    // release it). A limit below the current size overflows the next write.
    void set_limit(std::size_t limit) { limit_ = limit; }

    // Writes an uncompressed wire name, replacing its longest suffix already in
    // the message by a pointer; with `remember`, its labels become targets for
    // later names. Matching is case-insensitive (RFC 4343).
    void name(const std::uint8_t* wire, bool compress = true);
    // Declares that a name starts at `offset` (the question's name at 12).
    void remember(std::size_t offset);
    // The same for a name at `offset` whose `count` labels start at
    // offset + label[i] (the question's, from the parser), taken only when a
    // name is next compressed: most answers write none (their owners are
    // pointers to the question), and need not pay for it. `label` must stay
    // valid until then.
    void remember_labels(std::size_t offset, const std::uint8_t* label, std::size_t count) {
        pending_at_ = offset;
        pending_label_ = label;
        pending_count_ = count;
    }

    // Rewinds to `size` (used to drop sections when the answer does not fit).
    void truncate_to(std::size_t size) {
        take_pending();
        pos_ = size;
        overflow_ = false;
        while (targets_ > 0 && target_[targets_ - 1] >= size) --targets_;
    }

  private:
    bool room(std::size_t n) {
        if (overflow_ || limit_ - pos_ < n) {
            overflow_ = true;
            return false;
        }
        return true;
    }
    bool equal_at(std::size_t offset, const std::uint8_t* wire) const;
    void take_pending() {
        for (std::size_t i = 0; i < pending_count_ && targets_ < kMaxTargets; ++i) {
            const std::size_t at = pending_at_ + pending_label_[i];
            if (at < 0x4000) target_[targets_++] = static_cast<std::uint16_t>(at);
        }
        pending_count_ = 0;
    }

    // Offsets of label starts in the message that a pointer may target (< 0x4000).
    // 64 is plenty: a referral with glue has a few dozen names at most.
    static constexpr std::size_t kMaxTargets = 64;
    std::uint16_t target_[kMaxTargets];
    std::size_t targets_ = 0;
    std::size_t pending_at_ = 0;  // remember_labels(), not yet taken
    const std::uint8_t* pending_label_ = nullptr;
    std::size_t pending_count_ = 0;
    std::uint8_t* buf_;
    std::size_t limit_;
    std::size_t pos_ = 0;
    bool overflow_ = false;
};

}  // namespace wire
}  // namespace signpost::dnsd
