// The ceiling for a UDP DNS server on this machine: receives with recvmmsg,
// sets QR, sends back with sendmmsg, nothing else. Benchmarks report every
// server as a fraction of it.
//   udp_echo 127.0.0.1:5300 [RCVBUF]     (RCVBUF: SO_RCVBUF in bytes)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) {
        std::fprintf(stderr, "usage: udp_echo ADDRESS:PORT [RCVBUF]\n");
        return 2;
    }
    std::string a = argv[1];
    const auto colon = a.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(a.substr(colon + 1).c_str())));
    inet_pton(AF_INET, a.substr(0, colon).c_str(), &sa.sin_addr);
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (argc == 3) {
        const int rcvbuf = std::atoi(argv[2]);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::perror("udp_echo: bind");
        return 1;
    }
    constexpr unsigned kBatch = 64;
    // 4096 octets of room each, 4096+64 apart (as dnsd's): at a 4 KiB stride
    // every buffer's first line maps to the same L1 set and the batch evicts
    // itself, which made this ceiling lower than dnsd.
    static char bufs[kBatch][4096 + 64];
    sockaddr_storage peers[kBatch];
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    for (;;) {
        for (unsigned i = 0; i < kBatch; ++i) {
            iov[i] = {bufs[i], 4096};
            std::memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_name = &peers[i];
            msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = ::recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);
        if (n <= 0) continue;
        for (int i = 0; i < n; ++i) {
            bufs[i][2] = static_cast<char>(bufs[i][2] | 0x80);
            iov[i].iov_len = msgs[i].msg_len;
        }
        ::sendmmsg(fd, msgs, static_cast<unsigned>(n), 0);
    }
}
