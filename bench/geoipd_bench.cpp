// Lookups per second: in-process libmaxminddb against geoipd through its
// socket (pipelined and one at a time), on the same database and addresses,
// in the same run. scripts/bench-geoipd starts geoipd pinned to one core and
// this process to the other, and prints the ratios.
//
// Environment: SIGNPOST_BENCH_DB (the .mmdb), SIGNPOST_BENCH_SOCKET (geoipd's socket).

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "common/geo_client.hpp"
#include "common/unix_socket.hpp"

using namespace signpost::common;

namespace {

const char* env(const char* name) {
    const char* v = std::getenv(name);
    if (!v) {
        std::fprintf(stderr, "%s is not set (run scripts/bench-geoipd)\n", name);
        std::exit(2);
    }
    return v;
}

// 65,536 IPv4 and IPv6 addresses, fixed seed: 7/8 IPv4 drawn from the whole
// unicast space, 1/8 IPv6 from 2000::/4 where real allocations are.
const std::vector<IpAddress>& addresses() {
    static const std::vector<IpAddress> addrs = [] {
        std::mt19937_64 rng(20261123);
        std::vector<IpAddress> v;
        for (int i = 0; i < 65536; ++i) {
            if (i % 8 != 7) {
                std::uint32_t a;
                do a = static_cast<std::uint32_t>(rng());
                while ((a >> 24) == 0 || (a >> 24) >= 224);
                v.push_back(IpAddress::v4(a));
            } else {
                std::uint8_t b[16] = {};
                std::uint64_t hi = (rng() & 0x0fffffffffffffffULL) | 0x2000000000000000ULL;
                for (int k = 0; k < 8; ++k) b[k] = static_cast<std::uint8_t>(hi >> (56 - 8 * k));
                v.push_back(IpAddress::from_bytes(Family::kV6, b));
            }
        }
        return v;
    }();
    return addrs;
}

// The same facts geoipd reads, through the same libmaxminddb calls, prepared once.
void BM_InProcess(benchmark::State& state) {
    MMDB_s mmdb;
    if (MMDB_open(env("SIGNPOST_BENCH_DB"), MMDB_MODE_MMAP, &mmdb) != MMDB_SUCCESS) {
        state.SkipWithError("cannot open database");
        return;
    }
    static const char* const kPaths[][3] = {{"country", "iso_code", nullptr},
                                            {"country_code", nullptr, nullptr},
                                            {"continent", "code", nullptr},
                                            {"autonomous_system_number", nullptr, nullptr},
                                            {"autonomous_system_organization", nullptr, nullptr}};
    std::vector<sockaddr_storage> sas;
    for (const auto& a : addresses()) {
        sockaddr_storage ss;
        a.to_sockaddr(&ss);
        sas.push_back(ss);
    }
    std::size_t i = 0, found = 0;
    for (auto _ : state) {
        int err;
        auto r = MMDB_lookup_sockaddr(&mmdb, reinterpret_cast<sockaddr*>(&sas[i++ & 65535]), &err);
        if (r.found_entry) {
            ++found;
            for (const auto* p : kPaths) {
                MMDB_entry_data_s d;
                MMDB_aget_value(&r.entry, &d, p);
                benchmark::DoNotOptimize(d);
            }
        }
        benchmark::DoNotOptimize(r.netmask);
    }
    state.counters["found_pct"] =
        100.0 * static_cast<double>(found) / static_cast<double>(state.iterations());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    MMDB_close(&mmdb);
}

// Pipelined through the socket, with a light client: requests are prebuilt,
// answers counted by newline, and up to `window` requests kept in flight, so
// geoipd never waits for the client and the figure is geoipd's own.
void BM_SocketPipelinedRaw(benchmark::State& state) {
    const std::size_t window = static_cast<std::size_t>(state.range(0));
    std::string error;
    int fd = connect_unix(env("SIGNPOST_BENCH_SOCKET"), error);
    if (fd < 0) {
        state.SkipWithError(error.c_str());
        return;
    }
    // Blocking receive; sends stay non-blocking (MSG_DONTWAIT) below.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    std::string reqs;
    for (const auto& a : addresses()) reqs += a.to_string() + "\n";
    std::vector<std::size_t> line_end;  // offset just past each request line
    for (std::size_t i = 0; i < reqs.size(); ++i)
        if (reqs[i] == '\n') line_end.push_back(i + 1);
    std::vector<char> buf(1 << 20);
    std::size_t sent_lines = 0, recv_lines = 0, off = 0;
    const std::size_t n_lines = line_end.size();
    for (auto _ : state) {
        // One iteration = at least one answer received (usually a socket
        // buffer's worth); items are answers. Keep the window full meanwhile.
        const std::size_t target = recv_lines + 1;
        while (recv_lines < target) {
            if (sent_lines - recv_lines < window) {
                std::size_t upto = std::min(sent_lines + (window - (sent_lines - recv_lines)),
                                            (sent_lines / n_lines + 1) * n_lines);
                std::size_t end = line_end[(upto - 1) % n_lines];
                ssize_t n = ::send(fd, reqs.data() + off, end - off, MSG_DONTWAIT);
                if (n > 0) {
                    off += static_cast<std::size_t>(n);
                    // Count only whole lines as sent; a partial one finishes next time.
                    while (sent_lines < upto && line_end[sent_lines % n_lines] <= off) ++sent_lines;
                    if (off == reqs.size()) off = 0;
                }
            }
            ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) {
                state.SkipWithError("geoipd closed the connection");
                return;
            }
            recv_lines += static_cast<std::size_t>(std::count(buf.data(), buf.data() + n, '\n'));
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(recv_lines));
    ::close(fd);
}

// Pipelined through the full client library (what dnsd will use): parses
// every answer into a GeoAnswer.
void BM_SocketPipelinedClient(benchmark::State& state) {
    GeoClient client(env("SIGNPOST_BENCH_SOCKET"));
    const std::size_t batch = static_cast<std::size_t>(state.range(0));
    const auto& addrs = addresses();
    std::vector<GeoClient::Result> out;
    std::size_t start = 0;
    for (auto _ : state) {
        if (start + batch > addrs.size()) start = 0;
        auto err = client.lookup_many(std::span(addrs).subspan(start, batch), out,
                                      std::chrono::seconds(5));
        if (!err.empty()) {
            state.SkipWithError(err.c_str());
            return;
        }
        start += batch;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(batch));
}

// One request, wait for its answer, then the next: round-trip bound.
void BM_SocketOneAtATime(benchmark::State& state) {
    GeoClient client(env("SIGNPOST_BENCH_SOCKET"));
    const auto& addrs = addresses();
    std::size_t i = 0;
    for (auto _ : state) {
        auto r = client.lookup(addrs[i++ & 65535], std::chrono::seconds(5));
        if (!r.ok) {
            state.SkipWithError(r.error.c_str());
            return;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

BENCHMARK(BM_InProcess)->MinTime(2.0);
BENCHMARK(BM_SocketPipelinedRaw)->Arg(4096)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_SocketPipelinedClient)->Arg(256)->MinTime(2.0)->UseRealTime();
BENCHMARK(BM_SocketOneAtATime)->MinTime(2.0)->UseRealTime();
BENCHMARK_MAIN();
