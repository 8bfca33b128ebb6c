// Fuzzes the two files dnsd reads about node state: the admin state file
// (ours, but it may be damaged) and the external state file (written by
// someone else). First byte picks the reader. Neither may crash; the admin
// state must survive format -> parse unchanged, and a refused external file
// must leave the previous marks as they were, with a file:line error.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dnsd/health/admin_state.hpp"

using namespace signpost::dnsd;

namespace {
void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "admin_files fuzz: %s\n", what);
        std::abort();
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] & 1) {
        std::vector<std::string> warnings;
        const AdminOverrides o = parse_admin_state(text, "state", warnings);
        for (const auto& w : warnings)
            check(w.rfind("state:", 0) == 0, "warning without file:line");
        // What we write, we read back identically (names are single words).
        AdminOverrides clean;
        for (const auto& [name, ov] : o)
            if (name.find_first_of(" \t\r\n#") == std::string::npos && !name.empty())
                clean[name] = ov;
        std::vector<std::string> w2;
        const AdminOverrides back = parse_admin_state(format_admin_state(clean), "state", w2);
        check(w2.empty(), "formatted state file has warnings");
        check(back.size() == clean.size(), "round trip lost an override");
        for (const auto& [name, ov] : clean) {
            auto it = back.find(name);
            check(it != back.end() && it->second.mode == ov.mode &&
                      it->second.since_ms == ov.since_ms &&
                      (ov.mode != AdminMode::kDrain || it->second.drain_s == ov.drain_s),
                  "round trip changed an override");
            (void)drain_keep(ov, ov.since_ms + 1234);
        }
    } else {
        std::vector<ExternalMark> marks{{"before", std::nullopt, "kept", 1}};
        std::string error;
        if (parse_external(text, "ext", marks, error)) {
            for (const auto& m : marks) check(!m.node.empty() && m.line > 0, "empty mark");
        } else {
            check(error.rfind("ext:", 0) == 0, "error without file:line");
            check(marks.size() == 1 && marks[0].node == "before", "refused file changed marks");
        }
    }
    return 0;
}
