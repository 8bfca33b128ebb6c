#include "dnsd/server/sockets.hpp"

#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace signpost::dnsd {
inline namespace server {

namespace {
bool is_wildcard_address(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET)
        return reinterpret_cast<const sockaddr_in&>(ss).sin_addr.s_addr == htonl(INADDR_ANY);
    if (ss.ss_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr);
    return false;
}

int bind_socket(const ListenAddress& a, int kind, std::string& error) {
    sockaddr_storage ss;
    const unsigned len = a.address.to_sockaddr(&ss);
    const int family = a.address.is_v4() ? AF_INET : AF_INET6;
    if (family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(a.port);
    } else {
        reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(a.port);
    }
    int fd = ::socket(family, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = a.text() + ": socket: " + std::strerror(errno);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (kind == SOCK_DGRAM) {
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        // Never set DF and ignore ICMP "fragmentation needed": a forged ICMP
        // must not shrink our path MTU (the fragmentation attacks on DNS), and
        // our answers already fit 1232 octets (edns_payload).
        int omit = IP_PMTUDISC_OMIT;
        if (family == AF_INET) {
            ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &omit, sizeof omit);
        } else {
            omit = IPV6_PMTUDISC_OMIT;
            ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &omit, sizeof omit);
        }
        // On a wildcard address the kernel would pick an answer's source by
        // route, which on a host with several addresses is often not the one
        // the query went to, and resolvers drop such answers. Ask for each
        // query's destination, to answer from it (udp_worker.cpp).
        if (is_wildcard_address(ss)) {
            const int rc = family == AF_INET
                               ? ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)
                               : ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
            if (rc != 0) {
                error = a.text() + ": destination address option: " + std::strerror(errno);
                ::close(fd);
                return -1;
            }
        }
    }
    if (family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        error = a.text() + ": bind: " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (kind == SOCK_STREAM && ::listen(fd, 1024) != 0) {
        error = a.text() + ": listen: " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}
}  // namespace

int bind_udp(const ListenAddress& a, std::string& error) {
    return bind_socket(a, SOCK_DGRAM, error);
}
int bind_tcp(const ListenAddress& a, std::string& error) {
    return bind_socket(a, SOCK_STREAM, error);
}

bool bind_listener(const ListenAddress& la, unsigned threads, std::vector<int>& udp,
                   std::vector<int>& tcp, std::string& where, std::string& error) {
    // A few tries are plenty: a clash needs another socket on the very port
    // the kernel just handed out.
    const int attempts = la.port == 0 ? 16 : 1;
    for (int attempt = 0; attempt < attempts; ++attempt) {
        ListenAddress at = la;
        std::vector<int> fds;
        bool ok = true;
        for (unsigned t = 0; t < threads && ok; ++t) {
            const int fd = bind_udp(at, error);
            ok = fd >= 0;
            if (!ok) break;
            if (at.port == 0) at.port = static_cast<std::uint16_t>(bound_port(fd));
            fds.push_back(fd);
        }
        const int tfd = ok ? bind_tcp(at, error) : -1;
        if (tfd >= 0) {
            udp.insert(udp.end(), fds.begin(), fds.end());
            tcp.push_back(tfd);
            where = at.text();
            return true;
        }
        for (int fd : fds) ::close(fd);
    }
    return false;
}

int set_receive_buffer(int fd, unsigned bytes) {
    if (bytes != 0) {
        const int v = static_cast<int>(bytes);
        if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
            ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    }
    int got = 0;
    socklen_t len = sizeof got;
    return ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 ? got : -1;
}

long long receive_drops(int fd) {
    std::uint32_t info[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof info;
    if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
        len <= SK_MEMINFO_DROPS * sizeof(std::uint32_t))
        return -1;
    return info[SK_MEMINFO_DROPS];
}

bool is_wildcard(int fd) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
           is_wildcard_address(ss);
}

int bound_port(int fd) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace server
}  // namespace signpost::dnsd
