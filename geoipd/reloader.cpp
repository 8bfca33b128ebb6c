#include "geoipd/reloader.hpp"
#include "common/service.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <ctime>

#include "common/file_watch.hpp"
#include "common/log.hpp"

namespace signpost::geoipd {

std::shared_ptr<const DatabaseSet> load_all(const std::vector<DatabaseSpec>& specs,
                                            std::uint64_t generation, std::string& error,
                                            CompileStats* compile_stats) {
    std::vector<std::shared_ptr<const Database>> dbs;
    for (const auto& spec : specs) {
        auto db = Database::open(spec, error);
        if (!db) return nullptr;
        dbs.push_back(std::move(db));
    }
    auto set = DatabaseSet::build(std::move(dbs), generation, error, compile_stats);
    if (!set) error = "compiling the geo table: " + error;
    return set;
}

void note_published_table(Stats& stats, const DatabaseSet& set, const CompileStats& cs) {
    const auto& t = *set.table();
    stats.table_generation = t.generation();
    stats.table_v4_ranges = t.range_count(common::Family::kV4);
    stats.table_v6_ranges = t.range_count(common::Family::kV6);
    stats.table_facts = t.fact_count();
    stats.table_bytes = t.size();
    stats.table_compile_ms = static_cast<std::uint64_t>(cs.milliseconds + 0.5);
    SP_LOG_INFO(
        "geo table generation %llu: %zu IPv4 + %zu IPv6 ranges, %zu facts, %zu bytes, "
        "compiled from %zu tree leaves in %.1f ms",
        static_cast<unsigned long long>(t.generation()), cs.v4_ranges, cs.v6_ranges, cs.facts,
        cs.bytes, cs.tree_leaves, cs.milliseconds);
}

Reloader::Reloader(std::vector<DatabaseSpec> specs, common::Snapshot<DatabaseSet>& dbs,
                   Stats& stats, std::chrono::milliseconds stat_interval,
                   std::chrono::milliseconds debounce, bool use_inotify)
    : specs_(std::move(specs)),
      dbs_(dbs),
      stats_(stats),
      stat_interval_(stat_interval),
      debounce_(debounce),
      use_inotify_(use_inotify) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Reloader::~Reloader() {
    stop();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Reloader::start() {
    std::vector<std::string> paths;
    for (const auto& s : specs_) paths.push_back(s.path);
    watcher_ =
        std::make_unique<common::FileWatcher>(paths, stat_interval_, debounce_, use_inotify_);
    // The known state is the files actually loaded, not what is there now: one
    // replaced between loading and this point is then seen as a change.
    const auto current = dbs_.load();
    for (std::size_t i = 0; i < specs_.size(); ++i)
        watcher_->set_seen(specs_[i].path, current->databases()[i]->file_identity());
    thread_ = std::thread([this] { run(); });
}

void Reloader::stop() {
    stopping_ = true;
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof one);
    (void)w;
    if (thread_.joinable()) thread_.join();
}

void Reloader::request_reload_all() {
    reload_all_ = true;
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof one);
    (void)w;
}

std::string service_status(const DatabaseSet& set) {
    const auto& t = *set.table();
    return "generation " + std::to_string(set.generation()) + ", " +
           std::to_string(set.databases().size()) + " database(s), geo table " +
           std::to_string(t.range_count(common::Family::kV4)) + " IPv4 + " +
           std::to_string(t.range_count(common::Family::kV6)) + " IPv6 ranges";
}

bool Reloader::reload(const std::set<std::string>& paths) {
    // The service manager sees every reload, asked for or not, and its end.
    common::notify_reloading();
    const bool published = reload_databases(paths);
    common::notify_ready(service_status(*dbs_.load()));
    return published;
}

bool Reloader::reload_databases(const std::set<std::string>& paths) {
    const auto current = dbs_.load();
    std::vector<std::shared_ptr<const Database>> next = current->databases();
    bool changed = false;
    for (std::size_t i = 0; i < specs_.size(); ++i) {
        if (!paths.empty() && !paths.count(specs_[i].path)) continue;
        std::string error;
        auto db = Database::open(specs_[i], error);
        if (!db) {
            stats_.reload_failures.fetch_add(1);
            stats_.last_reload_failure = static_cast<std::int64_t>(std::time(nullptr));
            SP_LOG_ERROR("reload refused, still serving the previous %s (build %llu): %s",
                         specs_[i].path.c_str(),
                         static_cast<unsigned long long>(next[i]->build_epoch()), error.c_str());
            continue;
        }
        SP_LOG_INFO("loaded %s: type %s, kind %s, build %llu, %u nodes, %llu records",
                    db->path().c_str(), db->database_type().c_str(), db->schema().kind().c_str(),
                    static_cast<unsigned long long>(db->build_epoch()), db->node_count(),
                    static_cast<unsigned long long>(db->data_records()));
        if (watcher_) watcher_->set_seen(specs_[i].path, db->file_identity());
        next[i] = std::move(db);
        changed = true;
    }
    if (!changed) return false;
    const auto gen = current->generation() + 1;
    // Compiled here, before anything is published: a set without its table
    // is never served.
    std::string error;
    CompileStats cs;
    auto set = DatabaseSet::build(std::move(next), gen, error, &cs);
    if (!set) {
        stats_.reload_failures.fetch_add(1);
        stats_.table_compile_failures.fetch_add(1);
        stats_.last_reload_failure = static_cast<std::int64_t>(std::time(nullptr));
        SP_LOG_ERROR(
            "reload refused, still serving generation %llu: compiling the geo table "
            "for generation %llu: %s",
            static_cast<unsigned long long>(current->generation()),
            static_cast<unsigned long long>(gen), error.c_str());
        return false;
    }
    dbs_.publish(set);
    stats_.reloads.fetch_add(1);
    SP_LOG_INFO("published database generation %llu", static_cast<unsigned long long>(gen));
    note_published_table(stats_, *set, cs);
    if (on_publish_) on_publish_();
    return true;
}

void Reloader::run() {
    std::vector<std::string> paths;
    for (const auto& s : specs_) paths.push_back(s.path);
    common::FileWatcher& watcher = *watcher_;
    while (!stopping_) {
        auto changed = watcher.wait(std::chrono::seconds(3600), wake_fd_);
        std::uint64_t v;
        while (::read(wake_fd_, &v, sizeof v) > 0) {
        }
        if (stopping_) break;
        if (reload_all_.exchange(false)) {
            SP_LOG_INFO("reloading all databases (SIGHUP)");
            for (const auto& p : paths) watcher.mark_seen(p);
            reload({});
        } else if (!changed.empty()) {
            reload(changed);
        }
    }
}

}  // namespace signpost::geoipd
