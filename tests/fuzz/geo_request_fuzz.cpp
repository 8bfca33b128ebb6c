// Fuzzes what geoipd does with bytes from a client: line framing, request
// parsing, lookup and response formatting, exactly as the server runs them.
// Every response line must be valid JSON, and every answer must parse back
// into an answer whose prefix contains its address.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/geo_answer.hpp"
#include "common/geo_protocol.hpp"
#include "common/json.hpp"
#include "common/line_framer.hpp"
#include "geoipd/reloader.hpp"
#include "geoipd/request_handler.hpp"

using namespace signpost;

namespace {
const geoipd::DatabaseSet& test_set() {
    static std::shared_ptr<const geoipd::DatabaseSet> set = [] {
        std::string error;
        std::vector<geoipd::DatabaseSpec> specs;
        for (const char* f : {"/city.mmdb", "/asn.mmdb", "/v4only.mmdb"})
            specs.push_back(
                *geoipd::DatabaseSpec::parse(std::string(SIGNPOST_TESTDATA) + f, error));
        auto s = geoipd::load_all(specs, 1, error);
        if (!s) {
            std::fprintf(stderr, "fuzz setup: %s\n", error.c_str());
            std::abort();
        }
        return s;
    }();
    return *set;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static geoipd::Stats stats(1);
    const auto& set = test_set();
    common::LineFramer framer(common::kMaxRequestLine);
    std::string out;
    auto on_line = [&](std::string_view line) {
        geoipd::handle_request_line(line, set, stats, stats.worker(0), out);
    };
    framer.feed(
        std::string_view(reinterpret_cast<const char*>(data), size), on_line,
        [&](std::string_view head) { common::append_error_json(out, "request too long", head); });
    framer.finish(on_line);

    std::string_view rest(out);
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        if (nl == std::string_view::npos) std::abort();  // every response ends its line
        const auto line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        if (!common::json::for_each_member(line, [](auto, const auto&) {}).empty()) std::abort();
        if (line.starts_with("{\"ip\":")) {
            common::GeoAnswer a;
            if (!common::parse_answer_json(line, a).empty()) std::abort();
        }
    }
    return 0;
}
