#include "common/line_client.hpp"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/unix_socket.hpp"

namespace signpost::common {

namespace {

int remaining_ms(LineClient::Clock::time_point deadline) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - LineClient::Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}
}  // namespace

LineClient::LineClient(std::string socket_path, std::string peer, std::size_t max_line)
    : path_(std::move(socket_path)), peer_(std::move(peer)), max_line_(max_line) {}
LineClient::~LineClient() {
    close();
}

void LineClient::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    in_.clear();
    in_pos_ = 0;
}

std::string LineClient::ensure_connected() {
    if (fd_ >= 0) return {};
    std::string error;
    fd_ = connect_unix(path_, error);
    return error;
}

std::string LineClient::write_all(std::string_view data, Clock::time_point deadline) {
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

std::string LineClient::read_line(std::string& line, Clock::time_point deadline) {
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
        if (in_.size() - in_pos_ > max_line_) return "response line too long from " + path_;
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
        if (n == 0) return peer_ + " closed the connection (" + path_ + ")";
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return "read from " + path_ + ": " + std::strerror(errno);
        pollfd p{fd_, POLLIN, 0};
        int ms = remaining_ms(deadline);
        if (ms == 0 || ::poll(&p, 1, ms) == 0)
            return "timeout waiting for " + peer_ + " (" + path_ + ")";
    }
}

std::string LineClient::command(std::string_view request, std::string& response,
                                std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    if (auto e = ensure_connected(); !e.empty()) return e;
    std::string req(request);
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
