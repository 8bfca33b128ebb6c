#pragma once
// Keeps the served databases current. On a change (a file renamed into place,
// seen by inotify or the periodic stat; or SIGHUP for all files) it opens and
// validates the new file on this thread, away from the serving path, and
// publishes a new DatabaseSet, with its compiled geo table, in one pointer
// swap. A file that fails to open or validate, or a table that fails to
// compile, is refused with a log line and a counter; the old set and table
// keep serving.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file_watch.hpp"
#include "common/snapshot.hpp"
#include "geoipd/database_set.hpp"
#include "geoipd/schema.hpp"
#include "geoipd/stats.hpp"

namespace signpost::geoipd {

// Opens every database and compiles the table; nullptr with `error` if any
// of it fails (startup refuses to run on a broken file: there is no old one
// to keep).
std::shared_ptr<const DatabaseSet> load_all(const std::vector<DatabaseSpec>& specs,
                                            std::uint64_t generation, std::string& error,
                                            CompileStats* compile_stats = nullptr);

// Logs a published table (compile time, ranges, facts) and sets its gauges.
void note_published_table(Stats& stats, const DatabaseSet& set, const CompileStats& cs);
// One line for the service manager (systemctl status): generation, databases, ranges.
std::string service_status(const DatabaseSet& set);

class Reloader {
  public:
    Reloader(std::vector<DatabaseSpec> specs, common::Snapshot<DatabaseSet>& dbs, Stats& stats,
             std::chrono::milliseconds stat_interval, std::chrono::milliseconds debounce,
             bool use_inotify = true);
    ~Reloader();

    // Starts watching synchronously (a file replaced after start() returns is
    // seen), then the reload thread.
    void start();
    void stop();
    void request_reload_all();  // async-signal-safe: one write(2)
    // Called on the publishing thread after each new set is published (the
    // server wakes its workers with it to push the table to subscribers).
    // Set before start().
    void set_on_publish(std::function<void()> f) { on_publish_ = std::move(f); }

    // Reloads `paths` (all when empty) now, on the calling thread, telling the
    // service manager (RELOADING=1, then READY=1 with the status). Returns
    // true if a new set was published.
    bool reload(const std::set<std::string>& paths);

  private:
    bool reload_databases(const std::set<std::string>& paths);
    void run();

    std::vector<DatabaseSpec> specs_;
    common::Snapshot<DatabaseSet>& dbs_;
    Stats& stats_;
    std::chrono::milliseconds stat_interval_;
    std::chrono::milliseconds debounce_;
    bool use_inotify_;
    int wake_fd_ = -1;
    std::atomic<bool> reload_all_{false};
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::unique_ptr<common::FileWatcher> watcher_;
    std::function<void()> on_publish_;
};

}  // namespace signpost::geoipd
