#pragma once
// Listening sockets for DNS over UDP and TCP, IPv4 and IPv6 alike.

#include <string>
#include <vector>

#include "dnsd/server/config.hpp"

namespace signpost::dnsd {
inline namespace server {

// A UDP socket with SO_REUSEPORT (one per worker thread: the kernel spreads
// clients over them) or a TCP listener. IPv6 sockets are IPv6-only, so
// "0.0.0.0:53" and "[::]:53" can both be listed. Returns -1 with `error`.
int bind_udp(const ListenAddress& a, std::string& error);
int bind_tcp(const ListenAddress& a, std::string& error);

// Whether a socket is bound to 0.0.0.0 or [::]; such UDP sockets deliver each
// query's destination address (IP_PKTINFO, IPV6_RECVPKTINFO) so that the
// answer leaves from the address the client asked.
bool is_wildcard(int fd);

// Sets a UDP socket's receive buffer to `bytes` (SO_RCVBUFFORCE when we may,
// else SO_RCVBUF, which net.core.rmem_max caps); 0 keeps the default. Returns
// the limit the kernel applies, in its accounting (twice what was set).
int set_receive_buffer(int fd, unsigned bytes);

// Datagrams the kernel dropped because the socket's receive buffer was full
// (SO_MEMINFO); -1 if the kernel does not say.
long long receive_drops(int fd);

// The port a socket was bound to (to resolve port 0 once for all workers).
int bound_port(int fd);

// Binds one listen address for `threads` UDP workers and one TCP listener,
// all on the same port, appending the fds. Port 0 picks a free port for all
// of them: the kernel chooses one for the first UDP socket, and if another
// socket already holds that number for TCP (or another worker's UDP), we try
// again with a fresh one. `where` receives "address:port".
bool bind_listener(const ListenAddress& la, unsigned threads, std::vector<int>& udp,
                   std::vector<int>& tcp, std::string& where, std::string& error);

}  // namespace server
}  // namespace signpost::dnsd
