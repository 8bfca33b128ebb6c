#pragma once
// Notices when files are replaced: inotify on their directories (a file renamed
// into place is IN_MOVED_TO there; the file's own inode never changes, so
// watching the file itself would miss it), plus a periodic stat() as a fallback
// for filesystems without inotify (NFS, some container overlays).

#include <sys/types.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace signpost::common {

class FileWatcher {
  public:
    // `stat_interval`: how often to stat every file regardless of inotify.
    // `debounce`: after a change, wait for this long without further events, so
    // that a burst (write temp, fsync, rename) yields one reload.
    // `use_inotify` false: stat only (for filesystems where inotify is absent or lies).
    FileWatcher(const std::vector<std::string>& paths, std::chrono::milliseconds stat_interval,
                std::chrono::milliseconds debounce, bool use_inotify = true);
    ~FileWatcher();
    FileWatcher(const FileWatcher&) = delete;
    FileWatcher& operator=(const FileWatcher&) = delete;

    // Waits up to `timeout` (or until `wake_fd` is readable, if >= 0) and returns
    // the watched paths that changed. An empty result means nothing changed.
    std::set<std::string> wait(std::chrono::milliseconds timeout, int wake_fd);

    // A file's identity: a rename into place changes the inode, a rewrite the
    // size or mtime.
    struct Identity {
        dev_t dev = 0;
        ino_t ino = 0;
        off_t size = -1;
        long long mtime_ns = 0;
        bool operator==(const Identity&) const = default;
    };
    static Identity identify(const std::string& path);

    // Forget what was seen of `path`, so that its current state counts as known.
    void mark_seen(const std::string& path);
    // Record `id` as the known state of `path`: the identity of the file that
    // was actually loaded, so that a replacement just after loading is seen.
    void set_seen(const std::string& path, const Identity& id) { seen_[path] = id; }

  private:
    void drain_inotify(std::set<std::string>& changed);
    void stat_all(std::set<std::string>& changed);

    int inotify_fd_ = -1;
    std::map<int, std::string> dir_of_wd_;
    std::map<std::string, Identity> seen_;  // path -> identity last seen
    std::chrono::milliseconds stat_interval_;
    std::chrono::milliseconds debounce_;
    std::chrono::steady_clock::time_point next_stat_;
};

}  // namespace signpost::common
