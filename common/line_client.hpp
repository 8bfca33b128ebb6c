#pragma once
// The client side of a line protocol over a Unix socket (geoipd's, dnsd's
// control socket): connect, write whole requests, read whole response lines,
// every step bounded by one deadline. Used by GeoClient, dnsdctl and geoipctl.

#include <chrono>
#include <string>
#include <string_view>

namespace signpost::common {

class LineClient {
  public:
    using Clock = std::chrono::steady_clock;

    // `peer`: who answers, for error messages ("geoipd", "dnsd"). A response
    // line longer than `max_line` is garbage (the longest geoipd answer is
    // well under 1 KiB; dnsd's `status` for thousands of nodes is a few MiB).
    LineClient(std::string socket_path, std::string peer, std::size_t max_line = 64 * 1024);
    ~LineClient();
    LineClient(const LineClient&) = delete;
    LineClient& operator=(const LineClient&) = delete;

    // Each returns an empty string on success, else what went wrong (the
    // connection is then closed: the next call reconnects).
    std::string ensure_connected();
    std::string write_all(std::string_view data, Clock::time_point deadline);
    // One line, without its '\n'.
    std::string read_line(std::string& line, Clock::time_point deadline);
    // One request line ('\n' added) and its response line.
    std::string command(std::string_view request, std::string& response,
                        std::chrono::milliseconds timeout);

    bool connected() const { return fd_ >= 0; }
    void close();
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    std::string peer_;
    std::size_t max_line_;
    int fd_ = -1;
    std::string in_;          // bytes received and not yet consumed
    std::size_t in_pos_ = 0;  // start of unconsumed bytes in in_
};

}  // namespace signpost::common
