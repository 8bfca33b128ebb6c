#pragma once
// Keeps the served databases current. On a change (a file renamed into place,
// seen by inotify or the periodic stat; or SIGHUP for all files) it opens and
// validates the new file on this thread, away from the serving path, and
// publishes a new DatabaseSet with one pointer swap. A file that fails to open
// or validate is refused with a log line and a counter; the old one keeps serving.

#include <atomic>
#include <chrono>
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

// Opens every database; nullptr with `error` if any fails (startup refuses to
// run on a broken file: there is no old one to keep).
std::shared_ptr<const DatabaseSet> load_all(const std::vector<DatabaseSpec>& specs,
                                            std::uint64_t generation, std::string& error);

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

    // Reloads `paths` (all when empty) now, on the calling thread. Returns true
    // if a new set was published.
    bool reload(const std::set<std::string>& paths);

  private:
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
};

}  // namespace signpost::geoipd
