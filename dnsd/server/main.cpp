// dnsd: the signpost authoritative DNS server.

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <thread>

#include "common/daemon.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "common/service.hpp"
#include "common/snapshot.hpp"
#include "dnsd/health/checker.hpp"
#include "dnsd/redirect/geo_feed.hpp"
#include "dnsd/server/config.hpp"
#include "dnsd/server/control.hpp"
#include "dnsd/server/degradations.hpp"
#include "dnsd/server/secondary.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/server/sockets.hpp"
#include "dnsd/server/tcp_server.hpp"
#include "dnsd/server/udp_worker.hpp"

using namespace signpost;
using namespace signpost::dnsd;
namespace po = boost::program_options;

namespace {

int parse_args(int argc, char** argv, std::string& config, bool& check, bool& allow_root) {
    std::string reference;
    po::options_description desc(
        "dnsd: signpost's authoritative DNS server\n\nUsage: dnsd --config FILE "
        "[--check-config]\n   or: dnsd --print-config-reference[=man]\n\nOptions");
    desc.add_options()("help,h", "show this help")("version", "print the version and exit")(
        "config,c", po::value(&config)->value_name("FILE"),
        "the TOML configuration (see maps/dnsd.toml.example)")(
        "check-config", "load the configuration and every zone, report problems, and exit")(
        "allow-root",
        "keep running as root when started as root without [server] user (otherwise refused)")(
        "print-config-reference",
        po::value(&reference)->implicit_value("markdown")->value_name("FORMAT"),
        "print every configuration key (type, range, default, whether a change needs a "
        "restart, what it does) as Markdown, or with FORMAT man as the dnsd.toml(5) manual "
        "page, and exit");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "dnsd: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc
                  << "\nSignals: SIGHUP reloads the config and zones; SIGTERM/SIGINT stop.\n";
        return 0;
    }
    if (vm.count("version")) {
        std::cout << common::version_text("dnsd") << "\n";
        return 0;
    }
    if (vm.count("print-config-reference")) {
        if (reference != "markdown" && reference != "man") {
            std::cerr << "dnsd: --print-config-reference=" << reference
                      << ": the format is markdown or man (see --help)\n";
            return 2;
        }
        std::cout << (reference == "man" ? config_manual() : config_reference());
        return 0;
    }
    if (config.empty()) {
        std::cerr << "dnsd: --config FILE is required (see --help)\n";
        return 2;
    }
    check = vm.count("check-config") > 0;
    allow_root = vm.count("allow-root") > 0;
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    common::set_log_ident("dnsd");
    // Large blocks (decision ranges, compile temporaries) always from mmap:
    // glibc otherwise raises the threshold after the first large free, and a
    // compile's freed temporaries stay resident in the compiling thread's arena.
    ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    std::string config_path;
    bool check = false, allow_root = false;
    if (int rc = parse_args(argc, argv, config_path, check, allow_root); rc >= 0) return rc;

    std::string error;
    auto config = load_config(config_path, error);
    if (!config) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    common::set_log_level(config->log_level);
    std::vector<std::string> warnings;
    LabeledCounters labeled;  // answers per redirect and tier, per redirect and node
    // NOTIFYs for secondary zones, from the workers to the secondaries' thread.
    auto notify_inbox = std::make_shared<NotifyInbox>();
    auto initial = build_state(*config, 1, error, warnings, {}, &labeled, nullptr, notify_inbox);
    for (const auto& w : warnings) SP_LOG_WARN("%s", w.c_str());
    if (!initial) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    for (const auto& z : initial->zones.all())
        SP_LOG_INFO("zone %s serial %u, %zu names, from %s",
                    name_to_text(reinterpret_cast<const std::uint8_t*>(z->origin.data())).c_str(),
                    z->serial, z->nodes.size(), z->file.c_str());
    if (check) {
        std::printf("%s: OK, %zu zone(s)\n", config_path.c_str(), initial->zones.size());
        return 0;
    }
    std::optional<common::RunAs> run_as;
    if (!common::plan_run_as("dnsd", config->user, config->group, allow_root,
                             "set [server] user (and group)", config_path + ": [server] user",
                             run_as, error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }

    // Health checks hold a socket per address being checked, TCP clients one
    // each: use the file descriptors the hard limit allows.
    common::raise_file_limit();
    const int sfd = common::signal_fd();

    const unsigned threads =
        config->threads ? config->threads : std::max(1u, std::thread::hardware_concurrency());
    // Sockets: per worker one UDP socket per listen address (SO_REUSEPORT), one
    // TCP listener per address. Port 0 is resolved once so all workers share it.
    std::vector<int> udp;  // threads x listen addresses, one worker thread each
    std::vector<int> tcp;
    for (const auto& la : config->listen) {
        std::string where;
        if (!bind_listener(la, threads, udp, tcp, where, error)) {
            SP_LOG_ERROR("%s", error.c_str());
            return 1;
        }
        SP_LOG_INFO("listening on %s (UDP x%u, TCP)", where.c_str(), threads);
    }
    // Receive buffers: room for bursts while a worker is busy. The kernel may
    // grant less (net.core.rmem_max, without CAP_NET_ADMIN): say so once.
    bool buffer_warned = false;
    for (int fd : udp) {
        const int got = set_receive_buffer(fd, config->udp_rcvbuf);
        if (config->udp_rcvbuf != 0 && got >= 0 &&
            static_cast<unsigned>(got) < 2ull * config->udp_rcvbuf && !buffer_warned) {
            SP_LOG_WARN(
                "udp_rcvbuf = %u: the kernel allowed %d (its accounting doubles the "
                "value; raise net.core.rmem_max or give dnsd CAP_NET_ADMIN)",
                config->udp_rcvbuf, got / 2);
            buffer_warned = true;
        }
    }

    common::Snapshot<ServingState> state(initial);
    // Until the health checker's warm-up completes every admin-up node counts as up.
    common::Snapshot<HealthState> health(std::make_shared<const HealthState>());
    HealthChecker checker([&state] { return state.load()->edges; }, health);
    checker.start();
    initial.reset();
    // One counter block per thread: UDP workers, then TCP, then control.
    Stats stats(static_cast<unsigned>(udp.size()) + 2, &labeled);
    stats.sample_clients();
    TopClients top;
    // NOTIFY to the zones' secondaries, from its own thread.
    Notifier notifier;
    if (!notifier.start(config->listen, error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    StateReloader reloader(config_path, state);
    reloader.set_counters(&labeled);
    // Secondary zones: taken from their primaries on their own thread.
    Secondaries secondaries(state, notify_inbox, [&reloader] { return reloader.reload(); });
    stats.set_extra_metrics([&top, &notifier, &secondaries](std::string& out) {
        top.render(out);
        notifier.render(out);
        secondaries.render(out);
    });
    stats.set_udp_sockets(udp);
    reloader.set_notify_listener(notify_inbox);
    reloader.set_running_config(*config);
    reloader.note_files();  // as read for the first state: a change from here on is reloaded
    // The geo table: subscribed from geoipd on its own thread; each table is
    // compiled against every map aside and published with the state.
    GeoFeed feed([&state] { return state.load()->edges->geoip.socket; },
                 [&reloader](std::shared_ptr<const common::GeoTable> t) {
                     reloader.set_table(std::move(t));
                 });
    reloader.set_on_publish([&checker, &feed, &notifier, &secondaries, &state] {
        checker.notify();
        feed.wake();
        notifier.update(state.load()->notify_zones);
        secondaries.update();
    });
    stats.set_geo_status([&state, &feed] {
        GeoStatus g;
        const auto st = state.load();
        g.configured = !st->edges->geoip.socket.empty();
        g.connected = feed.connected();
        g.tables_received = feed.tables_received();
        g.tables_refused = feed.tables_refused();
        g.disconnects = feed.disconnects();
        if (const auto& d = st->decisions) {
            g.compile_ms = d->compile_ms;
            for (const auto& m : d->maps)
                g.decision_ranges += m.ranges(common::Family::kV4) + m.ranges(common::Family::kV6);
            if (const auto& t = d->table) {
                g.have_table = true;
                g.table_generation = t->generation();
                const auto now = static_cast<std::uint64_t>(std::time(nullptr));
                g.table_age_s = now > t->header().built_unix ? now - t->header().built_unix : 0;
                g.table_ranges_v4 = t->header().v4_count;
                g.table_ranges_v6 = t->header().v6_count;
            }
        }
        return g;
    });
    common::SocketAccess control_access = config->control_access;
    if (run_as && ::geteuid() == 0) {  // the socket stays usable (and removable) by that user
        control_access.owner = run_as->uid;
        control_access.owner_group = run_as->gid;
    }
    ControlServer control({config->control_socket, control_access}, state, stats, reloader);
    control.set_health(&health, &checker);
    control.set_own_stats(&stats.worker(static_cast<unsigned>(udp.size()) + 1));
    control.set_top(&top);
    if (!control.start(error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    std::unique_ptr<common::MetricsServer> metrics;
    if (!config->metrics_listen.empty()) {
        const int mfd = common::MetricsServer::listen(config->metrics_listen, error);
        if (mfd >= 0)
            metrics = std::make_unique<common::MetricsServer>(mfd, [&] {
                return stats.prometheus(state.load()->generation, reloader.reloads(),
                                        reloader.failures()) +
                       control.node_metrics();
            });
        if (!metrics || !metrics->start(error)) {
            SP_LOG_ERROR("%s", error.c_str());
            return 1;
        }
    }
    // Every socket is bound: root is needed no more.
    if (run_as) {
        if (!common::drop_privileges(*run_as, error)) {
            SP_LOG_ERROR("cannot drop root: %s", error.c_str());
            return 1;
        }
        SP_LOG_INFO("running as user %s (uid %u, gid %u)", run_as->user.c_str(),
                    static_cast<unsigned>(run_as->uid), static_cast<unsigned>(run_as->gid));
    }
    // Geo answers from the first query when geoipd is up (the queries that
    // arrive meanwhile wait in the socket buffers); no wait when it is not.
    feed.start();
    feed.wait_first(std::chrono::seconds(3));
    const int stop_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (unsigned i = 0; i < udp.size(); ++i)
        workers.emplace_back(
            [&, i] { run_udp_worker(udp[i], state, health, stats.worker(i), stop); });
    TcpLimits limits{config->tcp_idle_timeout_ms, config->tcp_max_connections,
                     config->tcp_max_per_client};
    const unsigned tcp_index = static_cast<unsigned>(udp.size());
    workers.emplace_back(
        [&] { run_tcp_server(tcp, limits, state, health, stats.worker(tcp_index), stop_fd); });
    notifier.update(state.load()->notify_zones);  // secondaries learn at once that we are up
    // What `systemctl status` shows: zones, generation, geo table, nodes up.
    auto status = [&state, &health, &feed] {
        const auto st = state.load();
        const auto hs = health.load();
        std::size_t up = 0, nodes = st->edges->nodes.size();
        for (std::size_t i = 0; i < nodes; ++i) {
            const bool v4 = hs->view.up_v4.empty() ? st->edges->nodes[i].admin_up
                                                   : i < hs->view.up_v4.size() && hs->view.up_v4[i];
            const bool v6 =
                !hs->view.up_v6.empty() && i < hs->view.up_v6.size() && hs->view.up_v6[i];
            up += v4 || v6;
        }
        const auto& d = st->decisions;
        return std::to_string(st->zones.all().size()) + " zone(s), generation " +
               std::to_string(st->generation) + ", " +
               (d && d->table ? "geo table " + std::to_string(d->table->generation())
                              : std::string("no geo table")) +
               (feed.connected()
                    ? ""
                    : (st->edges->geoip.socket.empty() ? "" : " (geoipd not connected)")) +
               ", " + std::to_string(up) + " of " + std::to_string(nodes) + " node(s) up";
    };
    // Before anything else may reload (the file reloader starts next).
    reloader.set_status(status);
    FileReloader file_reloader(reloader);
    file_reloader.start();
    secondaries.start();

    SP_LOG_INFO("serving with %u UDP worker(s)", threads);
    common::notify_ready(status());

    // Degradations the counters show, said in the log when they start and
    // when they end (once a second is soon enough, and costs nothing).
    Degradations degradations;
    const std::size_t fallback_watch =
        degradations.watch("fallback answers",
                           "geo redirects answer from their fallback pools (no geo table from "
                           "geoipd yet: is it running, and is [geoip] socket right?)");
    const std::size_t fail_open_watch = degradations.watch(
        "fail-open answers",
        "every candidate of a redirect is down or drained, so it answers as if all were up "
        "(see dnsdctl health)");
    const std::size_t drops_watch = degradations.watch(
        "UDP receive drops",
        "the kernel drops queries because receive buffers are full (raise udp_rcvbuf or threads)");
    auto observe = [&] {
        const auto now = Degradations::Clock::now();
        degradations.observe(fallback_watch, stats.total(&WorkerStats::redirect_fallback), now);
        degradations.observe(fail_open_watch, stats.total(&WorkerStats::redirect_fail_open), now);
        degradations.observe(drops_watch, stats.udp_receive_drops(), now);
        const auto st = state.load();
        top.collect(stats, stats.size(), st->decisions ? st->decisions->table.get() : nullptr, now);
    };
    observe();

    // The watchdog (WatchdogSec=), the degradation watch and the status line
    // are served from here while the signal loop waits.
    const auto watchdog = common::watchdog_interval();
    const int wait_ms =
        watchdog.count() > 0 ? static_cast<int>(std::min<long long>(watchdog.count(), 1000)) : 1000;
    std::string last_status;
    auto last_status_at = std::chrono::steady_clock::now();
    for (;;) {
        pollfd p{sfd, POLLIN, 0};
        const int ready = ::poll(&p, 1, wait_ms);
        if (watchdog.count() > 0) common::notify_watchdog();
        if (ready <= 0) {
            observe();
            const auto now = std::chrono::steady_clock::now();
            if (std::string st = status();
                st != last_status || now - last_status_at >= std::chrono::seconds(10)) {
                common::notify_status(st);
                last_status = std::move(st);
                last_status_at = now;
            }
            continue;
        }
        signalfd_siginfo si;
        if (::read(sfd, &si, sizeof si) != sizeof si) continue;
        if (si.ssi_signo == SIGHUP) {
            SP_LOG_INFO("SIGHUP: reloading %s", config_path.c_str());
            reloader.reload();
            continue;
        }
        SP_LOG_INFO("signal %u: shutting down", si.ssi_signo);
        break;
    }
    stop = true;
    std::uint64_t one = 1;
    ssize_t w = ::write(stop_fd, &one, sizeof one);
    (void)w;
    // Nothing may reload (control, files) once the parts a reload notifies stop.
    if (metrics) metrics->stop();
    control.stop();
    file_reloader.stop();
    secondaries.stop();
    feed.stop();
    notifier.stop();
    checker.stop();
    for (auto& t : workers) t.join();
    return 0;
}
