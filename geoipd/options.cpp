#include "geoipd/options.hpp"

#include "common/service.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "common/metrics_server.hpp"
#include "common/unix_socket.hpp"

namespace signpost::geoipd {

namespace po = boost::program_options;

namespace {

// Boost's config-file errors name the option but not the line: find the line
// so the message reads "geoipd.conf:7: ...".
std::string locate(const std::string& file, const std::string& option) {
    std::ifstream in(file);
    std::string line;
    std::string key = option;
    if (auto p = key.find_first_not_of('-'); p != std::string::npos) key = key.substr(p);
    for (int n = 1; std::getline(in, line); ++n) {
        auto s = line.find_first_not_of(" \t");
        if (s != std::string::npos && line.compare(s, key.size(), key) == 0)
            return file + ":" + std::to_string(n) + ": ";
    }
    return file + ": ";
}

}  // namespace

ParseOutcome parse_options(int argc, char** argv, Options& out) {
    unsigned stat_seconds = 10;
    unsigned debounce_ms = 200;
    std::vector<std::string> dbs;
    std::string config;
    po::options_description shared("Options (also valid in --config files, without the dashes)");
    std::string socket_mode = "0660";
    shared.add_options()("socket", po::value(&out.socket_path)->value_name("PATH"),
                         "Unix socket to listen on")(
        "socket-mode", po::value(&socket_mode)->default_value("0660")->value_name("MODE"),
        "the socket's permissions (octal): connecting needs write permission, so 0660 admits "
        "the owner and --socket-group only")(
        "socket-group", po::value(&out.socket_access.group)->value_name("GROUP"),
        "the socket's group (default: geoipd's own); tools in it may query geoipd")(
        "user", po::value(&out.user)->value_name("USER"),
        "run as USER once the socket is bound; started as root without it, geoipd refuses to "
        "run unless given --allow-root")(
        "group", po::value(&out.group)->value_name("GROUP"),
        "the group to run as with --user (default: the user's own)")(
        "metrics-listen", po::value(&out.metrics_listen)->value_name("ADDRESS:PORT"),
        "serve Prometheus metrics (HTTP GET /metrics) here; a port alone listens on 127.0.0.1 "
        "(default: none)")(
        "db", po::value(&dbs)->value_name("FILE[,FIELD=PATH...]"),
        "a .mmdb database (repeat for several); FIELD=PATH overrides where a field is read, "
        "e.g. --db geo.mmdb,country=country_code. Fields: country continent asn as_org "
        "latitude longitude accuracy_radius")(
        "threads", po::value(&out.threads)->default_value(1)->value_name("N"),
        "event-loop threads")(
        "max-clients", po::value(&out.max_clients)->default_value(1024)->value_name("N"),
        "connections served at once; more are told 'too many clients' and closed")(
        "stat-interval", po::value(&stat_seconds)->default_value(10)->value_name("SECONDS"),
        "stat() every database this often, for filesystems without inotify")(
        "debounce-ms", po::value(&debounce_ms)->default_value(200)->value_name("MS"),
        "wait this long after the last change to a database before reloading it")(
        "no-inotify", po::bool_switch(), "notice replaced databases by the periodic stat only")(
        "log-level", po::value(&out.log_level)->default_value("info")->value_name("LEVEL"),
        "debug, info, warn or error");
    po::options_description cli(
        "geoipd: IP -> network prefix, country, continent, ASN over a Unix socket\n\n"
        "Usage: geoipd --socket PATH --db FILE [--db FILE ...]\n"
        "   or: geoipd --export-table FILE --db FILE [--db FILE ...]\n\nCommand line");
    cli.add_options()("help,h", "show this help")("version", "print the version and exit")(
        "config", po::value(&config)->value_name("FILE"), "read options from FILE")(
        "check-config", "open and validate every database, print what was found, and exit")(
        "allow-root", "keep running as root when started as root without --user")(
        "export-table", po::value(&out.export_table)->value_name("FILE"),
        "open the databases, compile the geo table (generation 1, as served at startup), "
        "write its image to FILE (docs/geo-table.md) and exit");
    cli.add(shared);

    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, cli), vm);
        if (vm.count("help")) {
            std::cout << cli
                      << "\nProtocol: one request per line (an address, 'info', 'stats', "
                         "'table' or 'subscribe'), one JSON line per answer; 'table' and "
                         "'subscribe' pass the geo table's memfd. See README.md and "
                         "docs/geo-table.md.\n";
            return ParseOutcome::kExitOk;
        }
        if (vm.count("version")) {
            std::cout << common::version_text("geoipd") << "\n";
            return ParseOutcome::kExitOk;
        }
        if (vm.count("config")) {
            const std::string file = vm["config"].as<std::string>();
            std::ifstream in(file);
            if (!in) {
                std::cerr << "geoipd: cannot read config file " << file << "\n";
                return ParseOutcome::kExitError;
            }
            try {
                po::store(po::parse_config_file(in, shared), vm);
            } catch (const po::error_with_option_name& e) {
                std::cerr << "geoipd: " << locate(file, e.get_option_name()) << e.what() << "\n";
                return ParseOutcome::kExitError;
            } catch (const po::error& e) {
                std::cerr << "geoipd: " << file << ": " << e.what() << "\n";
                return ParseOutcome::kExitError;
            }
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "geoipd: " << e.what() << " (see --help)\n";
        return ParseOutcome::kExitError;
    }
    out.check_config = vm.count("check-config") > 0;
    out.allow_root = vm.count("allow-root") > 0;
    if (const auto mode = common::parse_socket_mode(socket_mode)) {
        out.socket_access.mode = *mode;
    } else {
        std::cerr << "geoipd: --socket-mode " << socket_mode
                  << ": expected an octal mode like 0660\n";
        return ParseOutcome::kExitError;
    }
    if (!out.socket_access.group.empty()) {
        std::string error;
        if (!common::lookup_group(out.socket_access.group, error)) {
            std::cerr << "geoipd: --socket-group: " << error << "\n";
            return ParseOutcome::kExitError;
        }
    }
    if (!out.metrics_listen.empty() && !common::MetricsServer::valid(out.metrics_listen)) {
        std::cerr << "geoipd: --metrics-listen " << out.metrics_listen
                  << ": expected ADDRESS:PORT, [IPv6]:PORT or a port\n";
        return ParseOutcome::kExitError;
    }
    if (!out.group.empty() && out.user.empty()) {
        std::cerr << "geoipd: --group " << out.group << " needs --user\n";
        return ParseOutcome::kExitError;
    }
    out.use_inotify = !vm["no-inotify"].as<bool>();
    out.stat_interval = std::chrono::seconds(stat_seconds == 0 ? 1 : stat_seconds);
    out.debounce = std::chrono::milliseconds(debounce_ms);
    if (dbs.empty()) {
        std::cerr << "geoipd: at least one --db FILE is required (see --help)\n";
        return ParseOutcome::kExitError;
    }
    for (const auto& d : dbs) {
        std::string error;
        auto spec = DatabaseSpec::parse(d, error);
        if (!spec) {
            std::cerr << "geoipd: --db " << d << ": " << error << "\n";
            return ParseOutcome::kExitError;
        }
        out.databases.push_back(std::move(*spec));
    }
    if (!out.check_config && out.export_table.empty()) {
        if (out.socket_path.empty()) {
            std::cerr << "geoipd: --socket PATH is required (see --help)\n";
            return ParseOutcome::kExitError;
        }
        if (out.socket_path.size() > common::kMaxUnixPath) {
            std::cerr << "geoipd: --socket " << out.socket_path << ": longer than "
                      << common::kMaxUnixPath << " bytes, the limit of a Unix socket path\n";
            return ParseOutcome::kExitError;
        }
    }
    if (out.threads == 0 || out.threads > 256) {
        std::cerr << "geoipd: --threads " << out.threads << ": expected 1..256\n";
        return ParseOutcome::kExitError;
    }
    if (out.max_clients == 0) {
        std::cerr << "geoipd: --max-clients must be at least 1\n";
        return ParseOutcome::kExitError;
    }
    if (out.log_level != "debug" && out.log_level != "info" && out.log_level != "warn" &&
        out.log_level != "error") {
        std::cerr << "geoipd: --log-level " << out.log_level
                  << ": expected debug, info, warn or error\n";
        return ParseOutcome::kExitError;
    }
    return ParseOutcome::kRun;
}

}  // namespace signpost::geoipd
