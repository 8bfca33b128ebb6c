// geoipctl: look addresses up through geoipd and print JSON lines.
//
//   geoipctl [--socket PATH] ADDRESS...     look up each address
//   geoipctl [--socket PATH] < addresses    one address per line
//   geoipctl [--socket PATH] info | stats   what geoipd has loaded, its counters

#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "common/geo_client.hpp"

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

}  // namespace

int main(int argc, char** argv) {
    std::string socket = "/run/geoipd.sock";
    unsigned timeout_ms = 5000;
    std::vector<std::string> args;
    po::options_description desc(
        "geoipctl: query geoipd\n\nUsage: geoipctl [options] ADDRESS... | info | stats\n"
        "With no ADDRESS, reads addresses from standard input, one per line.\n\nOptions");
    desc.add_options()("help,h", "show this help")("socket,s",
                                                   po::value(&socket)->value_name("PATH"),
                                                   "geoipd socket (default /run/geoipd.sock)")(
        "timeout-ms", po::value(&timeout_ms)->value_name("MS"),
        "total time allowed (default 5000)")("args", po::value(&args), "");
    po::positional_options_description pos;
    pos.add("args", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(desc).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "geoipctl: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    GeoClient client(socket);
    const auto timeout = std::chrono::milliseconds(timeout_ms);
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
