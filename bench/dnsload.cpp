// A light DNS load generator for loopback benchmarks: prebuilt query packets,
// a closed loop with a bounded number in flight, sendmmsg/recvmmsg batches,
// one socket. dnsperf saturates near 150k qps on a 2-core machine, which
// every decent server reaches; this costs a fraction of that per query, so
// the server, not the generator, is what is measured.
//
//   dnsload --server 127.0.0.1:5300 --queries FILE --seconds 5 --inflight 256
//
// FILE: one query per line, "NAME TYPE [ECS-SUBNET]" (e.g. "www.example.net A
// 198.51.100.0/24"). Prints one JSON line: sent, answered, lost, qps, latency.
// SIGTERM or SIGINT ends the run early, with the same line for what was done.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/query_file.hpp"

using Clock = std::chrono::steady_clock;
using signpost::common::IpAddress;
using signpost::common::Prefix;

namespace {
volatile sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) {
    g_stop = 1;
}
}  // namespace

int main(int argc, char** argv) {
    std::string server = "127.0.0.1:53", file;
    double seconds = 5;
    unsigned inflight = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--server")
            server = v;
        else if (k == "--queries")
            file = v;
        else if (k == "--seconds")
            seconds = std::atof(v.c_str());
        else if (k == "--inflight")
            inflight = static_cast<unsigned>(std::atoi(v.c_str()));
        else {
            std::fprintf(stderr, "dnsload: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    // Bounded: at most 65536 in flight (one per query ID) and at most 10 minutes.
    inflight = std::clamp(inflight, 1u, 65536u);
    seconds = std::clamp(seconds, 0.1, 600.0);
    const auto queries = signpost::bench::load_queries(file);
    if (queries.empty()) {
        std::fprintf(stderr, "dnsload: no queries in '%s'\n", file.c_str());
        return 2;
    }
    const auto colon = server.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(server.substr(colon + 1).c_str())));
    inet_pton(AF_INET, server.substr(0, colon).c_str(), &sa.sin_addr);
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    int buf = 8 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::perror("dnsload: connect");
        return 2;
    }
    timeval tv{0, 20000};  // recv wakes at least every 20 ms to resend lost queries
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    // Slot i uses query ID i; each slot holds one query in flight.
    struct Slot {
        Clock::time_point sent;
        std::size_t query = 0;
        bool busy = false;
    };
    std::vector<Slot> slots(inflight);
    std::vector<std::uint8_t> packets;  // per slot: a private copy to stamp the ID into
    std::size_t next_query = 0, sent = 0, answered = 0, lost = 0, bad = 0;
    std::vector<double> latencies;
    latencies.reserve(1 << 22);
    constexpr unsigned kBatch = 64;
    std::vector<std::vector<std::uint8_t>> out(kBatch, std::vector<std::uint8_t>(512));
    std::vector<std::uint8_t> inbuf(kBatch * 4096);
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    std::vector<unsigned> to_send;
    for (unsigned i = 0; i < inflight; ++i) to_send.push_back(i);
    const auto start = Clock::now();
    const auto end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto flush_sends = [&] {
        for (std::size_t off = 0; off < to_send.size(); off += kBatch) {
            const unsigned n =
                static_cast<unsigned>(std::min<std::size_t>(kBatch, to_send.size() - off));
            const auto now = Clock::now();
            for (unsigned k = 0; k < n; ++k) {
                Slot& s = slots[to_send[off + k]];
                s.query = next_query++ % queries.size();
                const auto& q = queries[s.query];
                out[k].assign(q.begin(), q.end());
                out[k][0] = static_cast<std::uint8_t>(to_send[off + k] >> 8);
                out[k][1] = static_cast<std::uint8_t>(to_send[off + k]);
                iov[k] = {out[k].data(), out[k].size()};
                std::memset(&msgs[k], 0, sizeof msgs[k]);
                msgs[k].msg_hdr.msg_iov = &iov[k];
                msgs[k].msg_hdr.msg_iovlen = 1;
                s.sent = now;
                s.busy = true;
            }
            int r = ::sendmmsg(fd, msgs, n, 0);
            if (r > 0) sent += static_cast<std::size_t>(r);
        }
        to_send.clear();
    };
    struct sigaction sa_stop {};
    sa_stop.sa_handler = on_stop;  // no SA_RESTART: a blocked recvmmsg returns
    ::sigaction(SIGTERM, &sa_stop, nullptr);
    ::sigaction(SIGINT, &sa_stop, nullptr);
    flush_sends();
    auto last_sweep = Clock::now();
    while (Clock::now() < end && !g_stop) {
        for (unsigned k = 0; k < kBatch; ++k) {
            iov[k] = {inbuf.data() + k * 4096, 4096};
            std::memset(&msgs[k], 0, sizeof msgs[k]);
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
        }
        int n = ::recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);
        const auto now = Clock::now();
        for (int k = 0; k < n; ++k) {
            const std::uint8_t* p = inbuf.data() + k * 4096;
            if (msgs[k].msg_len < 12 || !(p[2] & 0x80)) {
                ++bad;
                continue;
            }
            const unsigned id = static_cast<unsigned>((p[0] << 8) | p[1]);
            if (id >= inflight || !slots[id].busy) continue;  // a late answer to a resent slot
            slots[id].busy = false;
            ++answered;
            latencies.push_back(
                std::chrono::duration<double, std::micro>(now - slots[id].sent).count());
            to_send.push_back(id);
        }
        // A query unanswered for 1 s is lost: count it and reuse its slot.
        if (now - last_sweep > std::chrono::milliseconds(100)) {
            for (unsigned i = 0; i < inflight; ++i)
                if (slots[i].busy && now - slots[i].sent > std::chrono::seconds(1)) {
                    slots[i].busy = false;
                    ++lost;
                    to_send.push_back(i);
                }
            last_sweep = now;
        }
        flush_sends();
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
        return latencies.empty()
                   ? 0.0
                   : latencies[std::min(latencies.size() - 1,
                                        static_cast<std::size_t>(p * latencies.size()))];
    };
    double sum = 0;
    for (double l : latencies) sum += l;
    std::printf(
        "{\"sent\":%zu,\"answered\":%zu,\"lost\":%zu,\"malformed\":%zu,\"seconds\":%.3f,\"qps\":%."
        "0f,"
        "\"latency_us_avg\":%.1f,\"latency_us_p50\":%.1f,\"latency_us_p99\":%.1f}\n",
        sent, answered, lost, bad, elapsed, static_cast<double>(answered) / elapsed,
        latencies.empty() ? 0.0 : sum / static_cast<double>(latencies.size()), pct(0.5), pct(0.99));
    return 0;
}
