#include "common/geo_client.hpp"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/geo_protocol.hpp"
#include "common/unix_socket.hpp"

namespace signpost::common {

namespace {
// A response line longer than this is garbage: the longest answer (an IPv6
// address and prefix, a long AS organisation) is well under 1 KiB, and "info"
// for a handful of databases a few KiB.
constexpr std::size_t kMaxResponseLine = 64 * 1024;

int remaining_ms(GeoClient::Clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - GeoClient::Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}
}  // namespace

GeoClient::GeoClient(std::string socket_path) : path_(std::move(socket_path)) {}
GeoClient::~GeoClient() {
    close();
}

void GeoClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.clear();
    in_pos_ = 0;
}

std::string GeoClient::ensure_connected() {
    if (fd_ >= 0) return {};
    std::string error;
    fd_ = connect_unix(path_, error);
    return error;
}

std::string GeoClient::write_all(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            int ms = remaining_ms(deadline);
            if (ms == 0 || ::poll(&p, 1, ms) == 0) return "timeout writing to " + path_;
            continue;
        }
        return "write to " + path_ + ": " + std::strerror(errno);
    }
    return {};
}

std::string GeoClient::read_line(std::string& line, Clock::time_point deadline) {
    for (;;) {
        const auto nl = in_.find('\n', in_pos_);
        if (nl != std::string::npos) {
            line.assign(in_, in_pos_, nl - in_pos_);
            in_pos_ = nl + 1;
            if (in_pos_ == in_.size()) {
                in_.clear();
                in_pos_ = 0;
            }
            return {};
        }
        if (in_.size() - in_pos_ > kMaxResponseLine) return "response line too long from " + path_;
        if (in_pos_ > 0) {
            in_.erase(0, in_pos_);
            in_pos_ = 0;
        }
        char buf[16384];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            in_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return "geoipd closed the connection (" + path_ + ")";
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return "read from " + path_ + ": " + std::strerror(errno);
        pollfd p{fd_, POLLIN, 0};
        int ms = remaining_ms(deadline);
        if (ms == 0 || ::poll(&p, 1, ms) == 0) return "timeout waiting for geoipd (" + path_ + ")";
    }
}

std::string GeoClient::lookup_many(std::span<const IpAddress> addresses, std::vector<Result>& out,
                                   std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    out.clear();
    if (auto e = ensure_connected(); !e.empty()) return e;
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
        if (auto e = write_all(req, deadline); !e.empty()) {
            close();
            return e;
        }
        for (std::size_t i = start; i < end; ++i) {
            if (auto e = read_line(line, deadline); !e.empty()) {
                close();
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
    const auto deadline = Clock::now() + timeout;
    if (auto e = ensure_connected(); !e.empty()) return e;
    std::string req(line);
    req.push_back('\n');
    if (auto e = write_all(req, deadline); !e.empty()) {
        close();
        return e;
    }
    if (auto e = read_line(response, deadline); !e.empty()) {
        close();
        return e;
    }
    return {};
}

}  // namespace signpost::common
