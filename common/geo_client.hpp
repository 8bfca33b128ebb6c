#pragma once
// Client of the geoipd protocol: one persistent connection, pipelined requests,
// and a hard deadline on every call. Any failure (timeout, EOF, garbage) closes
// the connection, because answers still in flight would otherwise be taken for
// answers to later requests; the next call reconnects.

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/geo_answer.hpp"
#include "common/ip_address.hpp"
#include "common/line_client.hpp"

namespace signpost::common {

class GeoClient {
  public:
    using Clock = std::chrono::steady_clock;

    explicit GeoClient(std::string socket_path);
    GeoClient(const GeoClient&) = delete;
    GeoClient& operator=(const GeoClient&) = delete;

    struct Result {
        bool ok = false;
        GeoAnswer answer;
        std::string error;  // when !ok: geoipd's error line, or what went wrong
    };

    // Looks up every address, pipelined on one connection, within `timeout` in
    // total. Returns an empty string when every request got a response line
    // (each result may still be a per-request error); otherwise a transport
    // error, with `out` holding the results received so far.
    std::string lookup_many(std::span<const IpAddress> addresses, std::vector<Result>& out,
                            std::chrono::milliseconds timeout);
    Result lookup(const IpAddress& address, std::chrono::milliseconds timeout);

    // Sends one raw request line ("info", "stats") and returns the response line
    // in `response` (without its newline). Returns an empty string on success.
    std::string command(std::string_view line, std::string& response,
                        std::chrono::milliseconds timeout);

    bool connected() const { return conn_.connected(); }
    void close() { conn_.close(); }

  private:
    LineClient conn_;
};

}  // namespace signpost::common
