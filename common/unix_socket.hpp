#pragma once
// Unix-domain stream sockets: the transport of the geoipd protocol and of the
// control sockets. Both ends are non-blocking and close-on-exec.

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace signpost::common {

// sun_path is 108 bytes on Linux including the NUL; longer paths are refused
// with a message instead of being silently truncated to another path.
inline constexpr std::size_t kMaxUnixPath = 107;

struct SocketAccess;

// Binds and listens on `path`, replacing a stale socket file left by a dead
// process (but never a live one, and never a file that is not a socket).
// With `access`, the file gets that group and mode before anyone can connect.
// Returns the fd, or -1 with `error` set.
int listen_unix(const std::string& path, int backlog, std::string& error,
                const SocketAccess* access = nullptr);

// Connects to `path`; returns a non-blocking fd, or -1 with `error` set.
int connect_unix(const std::string& path, std::string& error);

// recvmsg() of data and of the file descriptors passed with it (SCM_RIGHTS,
// received close-on-exec), at most `max_fds` per call: appends them to
// `fds`. `truncated`: more were sent than fit; the kernel closed those (so
// the data can no longer be paired with its fds). Returns recvmsg's result.
ssize_t recv_with_fds(int sock, char* buf, std::size_t len, std::size_t max_fds,
                      std::vector<int>& fds, bool& truncated, int flags = 0);

}  // namespace signpost::common
