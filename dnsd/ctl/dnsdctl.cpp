// dnsdctl: talk to dnsd's control socket.
//   dnsdctl [-s SOCKET] reload | stats | zones | status | explain NAME ADDRESS[/PREFIX]
//                      | node NAME [up|down|drain [SECONDS]|auto]

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <string>

#include "common/unix_socket.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
    std::string socket = "/run/signpost/dnsd.sock";
    unsigned timeout_ms = 30000;
    std::vector<std::string> args;
    po::options_description desc(
        "dnsdctl: control dnsd\n\nUsage: dnsdctl [options] COMMAND\n\nCommands:\n"
        "  reload                      re-read the config, zones and map files\n"
        "  stats                       counters as JSON\n"
        "  zones                       served zones with serials\n"
        "  status                      every node address: admin, health, serving, reason\n"
        "  node NAME                   a node's admin state\n"
        "  node NAME up|down           force the node up or down (persists across restarts)\n"
        "  node NAME drain [SECONDS]   move its clients off gradually ([health] drain_seconds)\n"
        "  node NAME auto              back to health checks and the config\n"
        "  explain NAME ADDRESS[/PREFIX]  the redirect decision for a client, step by step\n"
        "\nOptions");
    desc.add_options()("help,h", "show this help")(
        "socket,s", po::value(&socket)->value_name("PATH"),
        "dnsd control socket (default /run/signpost/dnsd.sock)")(
        "timeout-ms", po::value(&timeout_ms)->value_name("MS"),
        "give up after this long (default 30000)")("args", po::value(&args), "");
    po::positional_options_description pos;
    pos.add("args", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "dnsdctl: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help") || args.empty()) {
        std::cout << desc << "\n";
        return args.empty() && !vm.count("help") ? 2 : 0;
    }
    std::string request;
    for (const auto& a : args) request += (request.empty() ? "" : " ") + a;
    request += "\n";
    std::string error;
    int fd = signpost::common::connect_unix(socket, error);
    if (fd < 0) {
        std::cerr << "dnsdctl: " << error << "\n";
        return 2;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    auto wait = [&](short what) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, what, 0};
        return left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) > 0;
    };
    for (std::size_t off = 0; off < request.size();) {
        ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
        } else if (!wait(POLLOUT)) {
            std::cerr << "dnsdctl: timeout sending to " << socket << "\n";
            return 2;
        }
    }
    std::string response;
    while (response.find('\n') == std::string::npos) {
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            response.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || !wait(POLLIN)) {
            std::cerr << "dnsdctl: no answer from " << socket << "\n";
            return 2;
        }
    }
    ::close(fd);
    // explain answers with readable text: print it as text.
    const auto t = response.find("\"text\":\"");
    if ((args[0] == "explain" || args[0] == "status") && t != std::string::npos) {
        std::string text;
        for (std::size_t i = t + 8; i < response.size() && response[i] != '"'; ++i) {
            if (response[i] == '\\' && i + 1 < response.size()) {
                const char e = response[++i];
                text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
            } else {
                text += response[i];
            }
        }
        std::cout << text;
        return 0;
    }
    std::cout << response;
    return response.find("\"ok\":false") != std::string::npos ? 1 : 0;
}
