// geoipd: answers "what do we know about this address?" over a Unix socket.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

#include "common/atomic_file.hpp"
#include "common/daemon.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "common/service.hpp"
#include "common/snapshot.hpp"
#include "geoipd/options.hpp"
#include "geoipd/reloader.hpp"
#include "geoipd/server.hpp"

using namespace signpost;
using namespace signpost::geoipd;

namespace {

void print_check(const DatabaseSet& set) {
    for (const auto& db : set.databases()) {
        std::printf("%s: type %s, kind %s, build epoch %llu, IPv%u, %u nodes, %llu records\n",
                    db->path().c_str(), db->database_type().c_str(), db->schema().kind().c_str(),
                    static_cast<unsigned long long>(db->build_epoch()), db->ip_version(),
                    db->node_count(), static_cast<unsigned long long>(db->data_records()));
        for (std::size_t i = 0; i < kFieldCount; ++i) {
            const auto& p = db->schema()[static_cast<Field>(i)];
            std::printf("  %-15s %s\n", std::string(field_name(static_cast<Field>(i))).c_str(),
                        p ? p->dotted().c_str() : "-");
        }
    }
}
// Writes the table image to a temporary file, synced and renamed over FILE,
// so a reader of FILE never sees half an image.
bool export_table(const DatabaseSet& set, const CompileStats& cs, const std::string& file) {
    const auto& t = *set.table();
    std::string error;
    if (!common::replace_file(file, {reinterpret_cast<const char*>(t.data()), t.size()}, error)) {
        std::fprintf(stderr, "geoipd: --export-table %s: %s\n", file.c_str(), error.c_str());
        return false;
    }
    std::printf(
        "%s: geo table generation %llu, %zu bytes, %zu IPv4 + %zu IPv6 ranges, "
        "%zu facts, compiled in %.1f ms\n",
        file.c_str(), static_cast<unsigned long long>(t.generation()), t.size(),
        t.range_count(common::Family::kV4), t.range_count(common::Family::kV6), t.fact_count(),
        cs.milliseconds);
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    common::set_log_ident("geoipd");
    Options opts;
    switch (parse_options(argc, argv, opts)) {
        case ParseOutcome::kExitOk:
            return 0;
        case ParseOutcome::kExitError:
            return 2;
        case ParseOutcome::kRun:
            break;
    }
    common::set_log_level(common::log_level_named(opts.log_level.c_str()));

    std::string error;
    CompileStats cs;
    auto initial = load_all(opts.databases, 1, error, &cs);
    if (!initial) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    if (opts.check_config) {
        print_check(*initial);
        return 0;
    }
    if (!opts.export_table.empty()) return export_table(*initial, cs, opts.export_table) ? 0 : 1;
    std::optional<common::RunAs> run_as;
    if (!common::plan_run_as("geoipd", opts.user, opts.group, opts.allow_root, "pass --user",
                             "--user", run_as, error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }

    // Signals are taken synchronously by this thread; every thread started
    // below inherits the blocked mask.
    int sfd = common::signal_fd();

    common::Snapshot<DatabaseSet> dbs(initial);
    for (const auto& db : initial->databases())
        SP_LOG_INFO("loaded %s: type %s, kind %s, build %llu", db->path().c_str(),
                    db->database_type().c_str(), db->schema().kind().c_str(),
                    static_cast<unsigned long long>(db->build_epoch()));
    Stats stats(opts.threads);
    note_published_table(stats, *initial, cs);
    initial.reset();

    ServerOptions sopts;
    sopts.socket_path = opts.socket_path;
    sopts.socket_access = opts.socket_access;
    if (run_as && ::geteuid() == 0) {  // the socket stays usable (and removable) by that user
        sopts.socket_access.owner = run_as->uid;
        sopts.socket_access.owner_group = run_as->gid;
    }
    sopts.threads = opts.threads;
    sopts.max_clients = opts.max_clients;
    // Watch before serving: a file replaced once clients can reach us is reloaded.
    Server server(sopts, dbs, stats);
    Reloader reloader(opts.databases, dbs, stats, opts.stat_interval, opts.debounce,
                      opts.use_inotify);
    // Subscribers get each new table as soon as it is published.
    reloader.set_on_publish([&server] { server.notify_published(); });
    reloader.start();
    if (!server.start(error)) {
        SP_LOG_ERROR("%s", error.c_str());
        reloader.stop();
        return 1;
    }
    std::unique_ptr<common::MetricsServer> metrics;
    if (!opts.metrics_listen.empty()) {
        const int mfd = common::MetricsServer::listen(opts.metrics_listen, error);
        if (mfd >= 0)
            metrics = std::make_unique<common::MetricsServer>(mfd, [&dbs, &stats] {
                return stats.prometheus(*dbs.load(), static_cast<std::int64_t>(std::time(nullptr)));
            });
        if (!metrics || !metrics->start(error)) {
            SP_LOG_ERROR("%s", error.c_str());
            server.stop();
            reloader.stop();
            return 1;
        }
        SP_LOG_INFO("metrics on http://%s/metrics", opts.metrics_listen.c_str());
    }
    if (run_as) {
        if (!common::drop_privileges(*run_as, error)) {
            SP_LOG_ERROR("cannot drop root: %s", error.c_str());
            server.stop();
            reloader.stop();
            return 1;
        }
        SP_LOG_INFO("running as user %s (uid %u, gid %u)", run_as->user.c_str(),
                    static_cast<unsigned>(run_as->uid), static_cast<unsigned>(run_as->gid));
    }
    SP_LOG_INFO("serving on %s with %u thread(s)", opts.socket_path.c_str(), opts.threads);
    common::notify_ready(service_status(*dbs.load()));

    // The watchdog (WatchdogSec=) is fed from here while the signal loop runs.
    const auto watchdog = common::watchdog_interval();
    for (;;) {
        pollfd p{sfd, POLLIN, 0};
        const int ready =
            ::poll(&p, 1, watchdog.count() > 0 ? static_cast<int>(watchdog.count()) : -1);
        if (watchdog.count() > 0) common::notify_watchdog();
        if (ready <= 0) continue;
        signalfd_siginfo si;
        if (::read(sfd, &si, sizeof si) != sizeof si) continue;
        if (si.ssi_signo == SIGHUP) {
            reloader.request_reload_all();
            continue;
        }
        SP_LOG_INFO("signal %u: shutting down", si.ssi_signo);
        break;
    }
    if (metrics) metrics->stop();
    reloader.stop();
    server.stop();
    return 0;
}
