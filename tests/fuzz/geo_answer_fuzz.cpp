// Fuzzes the client side: whatever bytes come back on the geoipd socket,
// parse_answer_json either rejects them or yields an answer whose prefix
// contains its address (the invariant dnsd's prefix cache relies on), and
// writing it out and reading it back is stable after one round (invalid UTF-8
// is replaced once, then stays). The fast path for geoipd's canonical line
// and the generic JSON reader must agree on every input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/geo_answer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    signpost::common::GeoAnswer a, g;
    const std::string e1 = signpost::common::parse_answer_json(text, a);
    const std::string e2 = signpost::common::parse_answer_json_generic(text, g);
    if (e1 != e2 || (e1.empty() && !(a == g))) {
        std::fprintf(stderr, "fast path and generic reader disagree: '%s' vs '%s'\n", e1.c_str(),
                     e2.c_str());
        std::abort();
    }
    if (e1.empty()) {
        if (!a.prefix.contains(a.ip)) std::abort();
        using namespace signpost::common;
        auto round = [](const GeoAnswer& in, GeoAnswer& out) {
            std::string line;
            append_answer_json(line, view_of(in));
            line.pop_back();
            if (!parse_answer_json(line, out).empty()) std::abort();
            GeoAnswer generic;  // what we write, both readers read alike
            if (!parse_answer_json_generic(line, generic).empty() || !(generic == out))
                std::abort();
        };
        GeoAnswer b, c;
        round(a, b);
        round(b, c);
        if (!(b == c)) std::abort();
    }
    return 0;
}
