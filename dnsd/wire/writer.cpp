#include "dnsd/wire/writer.hpp"

namespace signpost::dnsd {
inline namespace wire {

namespace {
std::uint8_t lower(std::uint8_t c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + 32) : c;
}
}  // namespace

void Writer::remember(std::size_t offset) {
    // Record every label start of the name at `offset` (following pointers is
    // unnecessary: a pointer's target was itself remembered when written).
    take_pending();
    std::size_t p = offset;
    while (p < pos_ && targets_ < kMaxTargets && p < 0x4000) {
        const std::uint8_t len = buf_[p];
        if (len == 0 || (len & 0xc0) != 0) break;
        target_[targets_++] = static_cast<std::uint16_t>(p);
        p += len + 1u;
    }
}

// Does the (possibly compressed) name in the message at `offset` equal the
// uncompressed name `wire`?
bool Writer::equal_at(std::size_t offset, const std::uint8_t* wire) const {
    std::size_t p = offset;
    for (int hops = 0; hops < 32;) {
        const std::uint8_t len = buf_[p];
        if ((len & 0xc0) == 0xc0) {
            p = ((len & 0x3fu) << 8) | buf_[p + 1];
            ++hops;
            continue;
        }
        if (len != *wire) return false;
        if (len == 0) return true;
        for (std::size_t i = 1; i <= len; ++i)
            if (lower(buf_[p + i]) != lower(wire[i])) return false;
        p += len + 1u;
        wire += len + 1u;
    }
    return false;
}

void Writer::name(const std::uint8_t* wire, bool compress) {
    take_pending();
    const std::size_t start = pos_;
    for (const std::uint8_t* s = wire; *s != 0; s += *s + 1) {
        if (compress) {
            for (std::size_t t = 0; t < targets_; ++t) {
                if (equal_at(target_[t], s)) {
                    bytes(wire, static_cast<std::size_t>(s - wire));
                    u16(static_cast<std::uint16_t>(0xc000 | target_[t]));
                    if (!overflow_) remember(start);
                    return;
                }
            }
        }
    }
    std::size_t len = 1;
    for (const std::uint8_t* s = wire; *s != 0; s += *s + 1) len += *s + 1u;
    bytes(wire, len);
    if (!overflow_ && compress) remember(start);
}

}  // namespace wire
}  // namespace signpost::dnsd
