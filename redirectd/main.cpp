// redirectd: answers HTTP requests for configured host names with a redirect
// to the best node for the client, decided by dnsd's own decision code from
// the same configuration file, geo table and health rules.

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <malloc.h>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/daemon.hpp"
#include "common/file_watch.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "common/privileges.hpp"
#include "common/service.hpp"
#include "common/snapshot.hpp"
#include "dnsd/health/checker.hpp"
#include "dnsd/redirect/geo_feed.hpp"
#include "redirectd/config.hpp"
#include "redirectd/server.hpp"

using namespace signpost;
using namespace signpost::redirectd;

namespace {

std::vector<std::string> watched_files(const HttpConfig& c) {
    std::vector<std::string> out{c.path};
    for (const auto& [name, m] : c.edges.maps)
        if (m.file != c.path) out.push_back(m.file);
    return out;
}

// Builds and publishes states: a reload (new config), a new geo table.
class Publisher {
  public:
    Publisher(common::Snapshot<RedirectState>& state, Counters& counters)
        : state_(state), counters_(counters) {}

    std::shared_ptr<const RedirectState> make(std::shared_ptr<const HttpConfig> config,
                                              std::uint64_t generation) {
        auto st = std::make_shared<RedirectState>();
        st->config = config;
        st->edges = std::shared_ptr<const dnsd::EdgeSet>(config, &config->edges);
        st->decisions = dnsd::compile_decisions(*st->edges, table_);
        st->generation = generation;
        for (const auto& n : st->edges->nodes) st->node_slots.push_back(counters_.slot(n.name));
        return st;
    }

    std::string reload() {
        std::lock_guard lock(mu_);
        common::notify_reloading();
        const auto current = state_.load();
        std::string error;
        auto config = load_http_config(current->config->path, error);
        // The certificate too (a renewed one is taken here). One that does not load
        // (unreadable by the user we run as, a key that does not match) is not
        // taken, and said so, but does not hold back the rest of the reload.
        if (config && check_) {
            std::string why;
            if (!check_(*config, why)) {
                ++tls_failures_;
                SP_LOG_ERROR("TLS certificate not reloaded, the previous one serves on: %s",
                             why.c_str());
            }
        }
        if (!config) {
            ++failures_;
            SP_LOG_ERROR("reload refused, still serving generation %llu: %s",
                         static_cast<unsigned long long>(current->generation), error.c_str());
            common::notify_ready("serving (the last reload was refused)");
            return error;
        }
        for (const auto& key : restart_only_changes(*current->config, *config))
            SP_LOG_WARN("%s: [http] %s changed: it takes effect when redirectd restarts",
                        config->path.c_str(), key.c_str());
        common::set_log_level(common::log_level_named(config->log_level.c_str()));
        auto next =
            make(std::make_shared<const HttpConfig>(std::move(*config)), current->generation + 1);
        state_.publish(next);
        ++reloads_;
        SP_LOG_INFO("published generation %llu: %zu host(s), %zu node(s)",
                    static_cast<unsigned long long>(next->generation), next->config->hosts.size(),
                    next->edges->nodes.size());
        if (on_publish_) on_publish_();
        common::notify_ready("serving");
        return {};
    }

    void set_table(std::shared_ptr<const common::GeoTable> table) {
        std::lock_guard lock(mu_);
        table_ = std::move(table);
        const auto current = state_.load();
        auto next = std::make_shared<RedirectState>(*current);
        next->decisions = dnsd::compile_decisions(*next->edges, table_);
        SP_LOG_INFO("geo table generation %llu: maps compiled in %.1f ms",
                    static_cast<unsigned long long>(table_->generation()),
                    next->decisions->compile_ms);
        state_.publish(std::move(next));
        table_->release_pages();
        ::malloc_trim(0);
    }

    void set_on_publish(std::function<void()> f) { on_publish_ = std::move(f); }
    void set_check(std::function<bool(const HttpConfig&, std::string&)> f) {
        check_ = std::move(f);
    }
    std::uint64_t reloads() const { return reloads_; }
    std::uint64_t failures() const { return failures_; }
    std::uint64_t tls_failures() const { return tls_failures_; }

  private:
    common::Snapshot<RedirectState>& state_;
    Counters& counters_;
    std::shared_ptr<const common::GeoTable> table_;
    std::function<void()> on_publish_;
    std::function<bool(const HttpConfig&, std::string&)> check_;
    std::mutex mu_;
    std::atomic<std::uint64_t> reloads_{0}, failures_{0}, tls_failures_{0};
};

}  // namespace

int main(int argc, char** argv) {
    common::set_log_ident("redirectd");
    namespace po = boost::program_options;
    std::string config_path;
    po::options_description desc(
        "redirectd: HTTP redirects (302 by default) to the best CDN node for each client,\n"
        "decided like dnsd decides its redirect names: the same config file ([http] and\n"
        "[[http.hosts]] are redirectd's), the same geo table from geoipd, the same\n"
        "health checks and admin state.\n\nOptions");
    desc.add_options()("help,h", "this help")("version", "print the version and exit")(
        "config,c", po::value(&config_path), "the configuration file (dnsd's, with [http])")(
        "check-config", "load and check the configuration, then exit (0: OK)")(
        "allow-root", "run as root without [http] user")(
        "print-config-reference", "print the [http] keys (Markdown) and exit");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "redirectd: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc
                  << "\nSignals: SIGHUP reloads the configuration (and a changed file is reloaded "
                     "by itself); SIGTERM/SIGINT stop.\n";
        return 0;
    }
    if (vm.count("version")) {
        std::cout << common::version_text("redirectd") << "\n";
        return 0;
    }
    if (vm.count("print-config-reference")) {
        std::cout << http_reference();
        return 0;
    }
    if (config_path.empty()) {
        std::cerr << "redirectd: --config FILE is required (see --help)\n";
        return 2;
    }
    std::string error;
    auto loaded = load_http_config(config_path, error);
    if (!loaded) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    if (!check_tls(*loaded, error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    if (vm.count("check-config")) {
        std::printf("%s: OK, %zu host(s), %zu node(s)\n", config_path.c_str(), loaded->hosts.size(),
                    loaded->edges.nodes.size());
        return 0;
    }
    common::set_log_level(common::log_level_named(loaded->log_level.c_str()));
    std::optional<common::RunAs> run_as;
    if (!common::plan_run_as("redirectd", loaded->user, loaded->group, vm.count("allow-root") > 0,
                             "set [http] user", config_path + ": [http] user", run_as, error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    // A connection is a file descriptor: use what the hard limit allows.
    common::raise_file_limit();
    const int sfd = common::signal_fd();

    Counters counters;
    common::Snapshot<RedirectState> state;
    Publisher publisher(state, counters);
    const HttpConfig startup = *loaded;
    state.publish(publisher.make(std::make_shared<const HttpConfig>(std::move(*loaded)), 1));

    // Health: its own checks, by dnsd's checker (see the README for why).
    common::Snapshot<dnsd::HealthState> health(std::make_shared<const dnsd::HealthState>());
    dnsd::HealthChecker checker([&state] { return state.load()->edges; }, health);
    checker.follow_state_file();  // dnsdctl node ... (written by dnsd) applies here too
    checker.start();

    Server server(startup, state, health, counters);
    if (!server.load_tls(startup, error) || !server.bind(error)) {
        SP_LOG_ERROR("%s", error.c_str());
        return 1;
    }
    publisher.set_check(
        [&server](const HttpConfig& c, std::string& why) { return server.load_tls(c, why); });
    std::unique_ptr<common::MetricsServer> metrics;
    if (!startup.metrics_listen.empty()) {
        const int mfd = common::MetricsServer::listen(startup.metrics_listen, error);
        if (mfd >= 0)
            metrics = std::make_unique<common::MetricsServer>(mfd, [&] {
                std::string out;
                counters.render(out);
                const auto st = state.load();
                out +=
                    "# HELP signpost_redirectd_generation the published state\n"
                    "# TYPE signpost_redirectd_generation gauge\nsignpost_redirectd_generation " +
                    std::to_string(st->generation) + "\n";
                out +=
                    "# HELP signpost_redirectd_reloads_total successful reloads\n"
                    "# TYPE signpost_redirectd_reloads_total counter\n"
                    "signpost_redirectd_reloads_total " +
                    std::to_string(publisher.reloads()) + "\n";
                out +=
                    "# HELP signpost_redirectd_reload_failures_total reloads refused\n"
                    "# TYPE signpost_redirectd_reload_failures_total counter\n"
                    "signpost_redirectd_reload_failures_total " +
                    std::to_string(publisher.failures()) + "\n";
                out +=
                    "# HELP signpost_redirectd_tls_reload_failures_total reloads whose "
                    "certificate or key did not load (the previous pair serves on)\n"
                    "# TYPE signpost_redirectd_tls_reload_failures_total counter\n"
                    "signpost_redirectd_tls_reload_failures_total " +
                    std::to_string(publisher.tls_failures()) + "\n";
                out +=
                    "# HELP signpost_redirectd_geo_table 1 once a geo table is in use\n"
                    "# TYPE signpost_redirectd_geo_table gauge\nsignpost_redirectd_geo_table " +
                    std::string(st->decisions && st->decisions->table ? "1" : "0") + "\n";
                return out;
            });
        if (!metrics || !metrics->start(error)) {
            SP_LOG_ERROR("%s", error.c_str());
            return 1;
        }
    }
    if (run_as) {
        if (!common::drop_privileges(*run_as, error)) {
            SP_LOG_ERROR("cannot drop root: %s", error.c_str());
            return 1;
        }
        SP_LOG_INFO("running as user %s", run_as->user.c_str());
    }
    dnsd::GeoFeed feed([&state] { return state.load()->edges->geoip.socket; },
                       [&publisher](std::shared_ptr<const common::GeoTable> t) {
                           publisher.set_table(std::move(t));
                       });
    publisher.set_on_publish([&checker, &feed] {
        checker.notify();
        feed.wake();
    });
    feed.start();
    feed.wait_first(std::chrono::seconds(3));
    const unsigned threads =
        startup.threads ? startup.threads : std::max(1u, std::thread::hardware_concurrency());
    server.start(threads);

    // A changed config or map file is reloaded by itself, as dnsd does.
    const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    std::atomic<bool> stopping{false};
    std::thread watcher([&] {
        auto files = watched_files(*state.load()->config);
        auto watch = [&] {
            return std::make_unique<common::FileWatcher>(files, std::chrono::seconds(5),
                                                         std::chrono::milliseconds(100));
        };
        auto w = watch();
        while (!stopping) {
            const auto changed = w->wait(std::chrono::hours(1), wake_fd);
            if (stopping) return;
            if (changed.empty()) continue;
            SP_LOG_INFO("%s changed: reloading", changed.begin()->c_str());
            w = watch();  // before reading: a change during the reload is seen
            if (!publisher.reload().empty()) continue;
            if (auto now = watched_files(*state.load()->config); now != files) {
                files = std::move(now);
                w = watch();
            }
        }
    });
    SP_LOG_INFO("serving with %u thread(s), %zu host(s)", threads, startup.hosts.size());
    common::notify_ready("serving");
    for (;;) {
        pollfd p{sfd, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        signalfd_siginfo si;
        if (::read(sfd, &si, sizeof si) != sizeof si) continue;
        if (si.ssi_signo == SIGHUP) {
            SP_LOG_INFO("SIGHUP: reloading %s", config_path.c_str());
            publisher.reload();
            continue;
        }
        SP_LOG_INFO("signal %u: shutting down", si.ssi_signo);
        break;
    }
    stopping = true;
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd, &one, sizeof one);
    (void)w;
    watcher.join();
    server.stop();
    if (metrics) metrics->stop();
    feed.stop();
    checker.stop();
    return 0;
}
