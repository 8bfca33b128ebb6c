#include "common/unix_socket.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/privileges.hpp"

namespace signpost::common {

namespace {
bool fill_addr(const std::string& path, sockaddr_un& sun, std::string& error) {
    if (path.empty() || path.size() > kMaxUnixPath) {
        error = "socket path '" + path + "' must be 1.." + std::to_string(kMaxUnixPath) + " bytes";
        return false;
    }
    std::memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.data(), path.size());
    return true;
}
std::string errno_text(const char* what, const std::string& path) {
    return std::string(what) + " " + path + ": " + std::strerror(errno);
}
}  // namespace

int listen_unix(const std::string& path, int backlog, std::string& error,
                const SocketAccess* access) {
    sockaddr_un sun;
    if (!fill_addr(path, sun, error)) return -1;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = "refusing to replace " + path + ": it exists and is not a socket";
            return -1;
        }
        std::string ignored;
        int probe = connect_unix(path, ignored);
        if (probe >= 0) {
            ::close(probe);
            error = "another process is already listening on " + path;
            return -1;
        }
        ::unlink(path.c_str());  // stale socket from a process that died
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno_text("socket", path);
        return -1;
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
        error = errno_text("bind", path);
        ::close(fd);
        return -1;
    }
    // (Connecting needs listen(): until then the umask's mode admits nobody.)
    if (access && !apply_socket_access(path, *access, error)) {
        ::unlink(path.c_str());
        ::close(fd);
        return -1;
    }
    if (::listen(fd, backlog) != 0) {
        error = errno_text("listen", path);
        ::close(fd);
        return -1;
    }
    return fd;
}

int connect_unix(const std::string& path, std::string& error) {
    sockaddr_un sun;
    if (!fill_addr(path, sun, error)) return -1;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno_text("socket", path);
        return -1;
    }
    // A Unix stream connect completes at once or fails at once (EAGAIN when the
    // listener's backlog is full); it never goes EINPROGRESS.
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
        error = errno_text("connect", path);
        ::close(fd);
        return -1;
    }
    return fd;
}

ssize_t recv_with_fds(int sock, char* buf, std::size_t len, std::size_t max_fds,
                      std::vector<int>& fds, bool& truncated, int flags) {
    std::vector<char> control(CMSG_SPACE(sizeof(int) * max_fds));
    iovec iov{buf, len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    truncated = false;
    if (n < 0) return n;  // nothing was received, control messages included
    truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int got;
            std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
            fds.push_back(got);
        }
    }
    return n;
}

}  // namespace signpost::common
