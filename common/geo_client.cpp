#include "common/geo_client.hpp"

#include "common/geo_protocol.hpp"

namespace signpost::common {

GeoClient::GeoClient(std::string socket_path) : conn_(std::move(socket_path), "geoipd") {}

std::string GeoClient::lookup_many(std::span<const IpAddress> addresses, std::vector<Result>& out,
                                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    out.clear();
    if (auto e = conn_.ensure_connected(); !e.empty()) return e;
    // Write in slices and read their answers before writing more, so that
    // neither side's socket buffer can fill up while the other waits.
    constexpr std::size_t kSlice = 256;
    std::string req;
    std::string line;
    char text[IpAddress::kMaxText];
    for (std::size_t start = 0; start < addresses.size(); start += kSlice) {
        const std::size_t end = std::min(addresses.size(), start + kSlice);
        req.clear();
        for (std::size_t i = start; i < end; ++i) {
            req.append(text, addresses[i].format(text));
            req.push_back('\n');
        }
        if (auto e = conn_.write_all(req, deadline); !e.empty()) {
            conn_.close();
            return e;
        }
        for (std::size_t i = start; i < end; ++i) {
            if (auto e = conn_.read_line(line, deadline); !e.empty()) {
                conn_.close();
                return e;
            }
            Result r;
            r.error = parse_answer_json(line, r.answer);
            r.ok = r.error.empty();
            if (!r.ok && !r.error.starts_with("geoipd: ")) {
                close();  // not our protocol: nothing after this can be trusted
                return r.error;
            }
            out.push_back(std::move(r));
        }
    }
    return {};
}

GeoClient::Result GeoClient::lookup(const IpAddress& address, std::chrono::milliseconds timeout) {
    std::vector<Result> out;
    auto e = lookup_many(std::span(&address, 1), out, timeout);
    if (!e.empty()) {
        Result r;
        r.error = e;
        return r;
    }
    return out.front();
}

std::string GeoClient::command(std::string_view line, std::string& response,
                               std::chrono::milliseconds timeout) {
    return conn_.command(line, response, timeout);
}

}  // namespace signpost::common
