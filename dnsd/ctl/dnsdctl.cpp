// dnsdctl: talk to dnsd's control socket.
//   dnsdctl [-s SOCKET] [--json] reload | stats | zones | status | top [N]
//                      | explain NAME ADDRESS[/PREFIX] | node NAME [up|down|drain [SECONDS]|auto]

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>
#include <string>

#include "common/cli.hpp"
#include "common/json.hpp"
#include "common/line_client.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
    std::string socket = "/run/signpost/dnsd.sock";
    unsigned timeout_ms = 10000;
    std::vector<std::string> args;
    po::options_description desc(
        "dnsdctl: control dnsd\n\nUsage: dnsdctl [options] COMMAND\n\nCommands:\n"
        "  reload                      re-read the config, zones and map files\n"
        "  stats                       counters as JSON\n"
        "  zones                       served zones with serials\n"
        "  status                      every node address: admin, health, serving, reason\n"
        "  top [N]                     the N (10) busiest ASNs and countries of redirect clients,\n"
        "                              over the last 5 minutes (estimated from samples)\n"
        "  node NAME                   a node's admin state\n"
        "  node NAME up|down           force the node up or down (persists across restarts)\n"
        "  node NAME drain [SECONDS]   move its clients off gradually ([health] drain_seconds)\n"
        "  node NAME auto              back to health checks and the config\n"
        "  explain NAME ADDRESS[/PREFIX]  the redirect decision for a client, step by step\n"
        "                              (NAME may lead to the redirect through CNAMEs)\n"
        "\nOptions");
    desc.add_options()("help,h", "show this help")("version", "print the version and exit")(
        "socket,s", po::value(&socket)->value_name("PATH"),
        "dnsd control socket (default /run/signpost/dnsd.sock)")(
        "timeout-ms", po::value(&timeout_ms)->value_name("MS"),
        "give up after this long, with an error (default 10000)")(
        "json", "print dnsd's answer as the JSON line it is, for every command (scripts)");
    po::variables_map vm;
    if (int rc = signpost::common::parse_tool_args("dnsdctl", argc, argv, desc, args, vm); rc >= 0)
        return rc;
    if (vm.count("help") || args.empty()) {
        std::cout << desc << "\n";
        return args.empty() && !vm.count("help") ? 2 : 0;
    }
    std::string request;
    for (const auto& a : args) request += (request.empty() ? "" : " ") + a;
    signpost::common::LineClient client(socket, "dnsd", 64u << 20);
    std::string response;
    if (auto e = client.command(request, response, std::chrono::milliseconds(timeout_ms));
        !e.empty()) {
        std::cerr << "dnsdctl: " << e
                  << (e.starts_with("timeout")
                          ? " after " + std::to_string(timeout_ms) + " ms (--timeout-ms)"
                          : std::string())
                  << "\n";
        return 2;
    }
    // {"ok":true|false, ...}: explain and status answer with readable text
    // ("text"), printed as text; anything else is printed as the JSON it is.
    bool failed = false;  // "ok":false (answers without "ok", like stats, are answers)
    bool has_text = false;
    std::string text;
    const std::string bad =
        signpost::common::json::for_each_member(response, [&](std::string_view k, const auto& v) {
            if (k == "ok") failed = !(v.type == signpost::common::json::Type::kBool && v.boolean);
            if (k == "text" && v.type == signpost::common::json::Type::kString) {
                has_text = true;
                text = v.str;
            }
        });
    if (!bad.empty()) {
        std::cerr << "dnsdctl: not a dnsd answer (" << bad << "): " << response.substr(0, 200)
                  << "\n";
        return 2;
    }
    if (!vm.count("json") && (args[0] == "explain" || args[0] == "status" || args[0] == "top") &&
        has_text) {
        std::cout << text;
        return failed ? 1 : 0;
    }
    std::cout << response << "\n";
    return failed ? 1 : 0;
}
