// geoipctl: look addresses up through geoipd and print JSON lines.
//
//   geoipctl [--socket PATH] ADDRESS...     look up each address
//   geoipctl [--socket PATH] < addresses    one address per line
//   geoipctl [--socket PATH] info | stats   what geoipd has loaded, its counters
//   geoipctl [--socket PATH] table          receive the geo table's memfd, validate
//                                           it as any reader must, describe it

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/geo_client.hpp"
#include "common/geo_table.hpp"
#include "common/unix_socket.hpp"

using namespace signpost::common;
namespace po = boost::program_options;

namespace {

int run_lookups(GeoClient& client, const std::vector<std::string>& inputs,
                std::chrono::milliseconds timeout) {
    int status = 0;
    std::vector<IpAddress> addrs;
    std::vector<std::size_t> index;  // inputs[index[i]] -> addrs[i]
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        auto a = IpAddress::parse(inputs[i]);
        if (!a) {
            std::string line;
            append_error_json(line, "not an IPv4 or IPv6 address", inputs[i]);
            std::cout << line;
            status = 1;
            continue;
        }
        addrs.push_back(*a);
    }
    std::vector<GeoClient::Result> results;
    auto err = client.lookup_many(addrs, results, timeout);
    std::string out;
    for (const auto& r : results) {
        if (r.ok) {
            append_answer_json(out, view_of(r.answer));
        } else {
            append_error_json(out, r.error, "");
            status = 1;
        }
    }
    std::cout << out << std::flush;
    if (!err.empty()) {
        std::cerr << "geoipctl: " << err << "\n";
        return 2;
    }
    return status;
}

// Asks for the table, takes the fd that comes with its line, and maps it with
// the full validation (seals included): what a consumer of the table does.
int run_table(const std::string& socket, std::chrono::milliseconds timeout) {
    std::string error;
    const int s = connect_unix(socket, error);
    if (s < 0) {
        std::cerr << "geoipctl: " << error << "\n";
        return 2;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto wait = [&](short events) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{s, events, 0};
        return left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) == 1;
    };
    static constexpr char kReq[] = "table\n";
    if (!wait(POLLOUT) || ::send(s, kReq, sizeof kReq - 1, MSG_NOSIGNAL) != sizeof kReq - 1) {
        std::cerr << "geoipctl: " << socket << ": cannot send the request\n";
        ::close(s);
        return 2;
    }
    std::string line;
    int fd = -1;
    while (line.find('\n') == std::string::npos) {
        if (!wait(POLLIN)) {
            std::cerr << "geoipctl: " << socket << ": no table answer within " << timeout.count()
                      << " ms\n";
            break;
        }
        char buf[4096];
        std::vector<int> got;
        bool truncated = false;
        const ssize_t n = recv_with_fds(s, buf, sizeof buf, 4, got, truncated);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            std::cerr << "geoipctl: " << socket << ": connection closed before the table\n";
            break;
        }
        for (int g : got) {
            if (fd < 0)
                fd = g;
            else
                ::close(g);
        }
        line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(s);
    if (line.find('\n') == std::string::npos) {
        if (fd >= 0) ::close(fd);
        return 2;
    }
    line.resize(line.find('\n'));
    if (!line.starts_with("{\"table\":")) {
        std::cerr << "geoipctl: " << socket << ": unexpected answer: " << line << "\n";
        if (fd >= 0) ::close(fd);
        return 2;
    }
    if (fd < 0) {
        std::cerr << "geoipctl: " << socket << ": the table answer came without its fd\n";
        return 1;
    }
    auto table = GeoTable::map_fd(fd, true, error);
    if (!table) {
        std::cerr << "geoipctl: the table from " << socket << " is invalid: " << error << "\n";
        return 1;
    }
    std::cout << table->describe_json() << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket = "/run/signpost/geoipd.sock";
    unsigned timeout_ms = 5000;
    std::vector<std::string> args;
    po::options_description desc(
        "geoipctl: query geoipd\n\nUsage: geoipctl [options] ADDRESS... | info | stats | table\n"
        "'table' receives the geo table's memfd, validates it and describes it.\n"
        "With no ADDRESS, reads addresses from standard input, one per line.\n\nOptions");
    desc.add_options()("help,h", "show this help")("version", "print the version and exit")(
        "socket,s", po::value(&socket)->value_name("PATH"),
        "geoipd socket (default /run/signpost/geoipd.sock, as in the example config and the unit)")(
        "timeout-ms", po::value(&timeout_ms)->value_name("MS"),
        "total time allowed (default 5000)");
    po::variables_map vm;
    if (int rc = signpost::common::parse_tool_args("geoipctl", argc, argv, desc, args, vm); rc >= 0)
        return rc;
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    GeoClient client(socket);
    const auto timeout = std::chrono::milliseconds(timeout_ms);
    if (args.size() == 1 && args[0] == "table") return run_table(socket, timeout);
    if (args.size() == 1 && (args[0] == "info" || args[0] == "stats")) {
        std::string response;
        auto err = client.command(args[0], response, timeout);
        if (!err.empty()) {
            std::cerr << "geoipctl: " << err << "\n";
            return 2;
        }
        std::cout << response << "\n";
        return 0;
    }
    if (!args.empty()) return run_lookups(client, args, timeout);
    // Standard input: look up in batches so a long stream is pipelined.
    int status = 0;
    std::vector<std::string> batch;
    std::string line;
    auto flush = [&] {
        if (batch.empty()) return;
        int s = run_lookups(client, batch, timeout);
        if (s > status) status = s;
        batch.clear();
    };
    while (std::getline(std::cin, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty()) continue;
        batch.push_back(line);
        if (batch.size() == 1024) flush();
    }
    flush();
    return status;
}
