// Fuzzes the client side: whatever bytes come back on the geoipd socket,
// parse_answer_json either rejects them or yields an answer whose prefix
// contains its address (the invariant dnsd's prefix cache relies on), and
// writing it out and reading it back is stable after one round (invalid UTF-8
// is replaced once, then stays).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/geo_answer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    signpost::common::GeoAnswer a;
    if (signpost::common::parse_answer_json(text, a).empty()) {
        if (!a.prefix.contains(a.ip)) std::abort();
        using namespace signpost::common;
        auto round = [](const GeoAnswer& in, GeoAnswer& out) {
            std::string line;
            append_answer_json(line, view_of(in));
            line.pop_back();
            if (!parse_answer_json(line, out).empty()) std::abort();
        };
        GeoAnswer b, c;
        round(a, b);
        round(b, c);
        if (!(b == c)) std::abort();
    }
    return 0;
}
