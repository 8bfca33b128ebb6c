#include "common/file_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.hpp"

namespace signpost::common {

namespace {
std::string dir_of(const std::string& path) {
    auto parent = std::filesystem::path(path).parent_path().string();
    return parent.empty() ? "." : parent;
}
std::string join(const std::string& dir, const char* name) {
    return dir == "." ? std::string(name) : dir + "/" + name;
}
}  // namespace

FileWatcher::FileWatcher(const std::vector<std::string>& paths,
                         std::chrono::milliseconds stat_interval,
                         std::chrono::milliseconds debounce, bool use_inotify)
    : stat_interval_(stat_interval), debounce_(debounce) {
    if (use_inotify) {
        inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify_fd_ < 0) SP_LOG_WARN("inotify unavailable, relying on periodic stat only");
    }
    std::set<std::string> dirs;
    for (const auto& p : paths) {
        seen_[p] = identify(p);
        dirs.insert(dir_of(p));
    }
    for (const auto& d : dirs) {
        if (inotify_fd_ < 0) break;
        int wd = ::inotify_add_watch(inotify_fd_, d.c_str(),
                                     IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE);
        if (wd < 0) {
            SP_LOG_WARN("cannot watch directory %s; relying on periodic stat", d.c_str());
            continue;
        }
        dir_of_wd_[wd] = d;
    }
    next_stat_ = std::chrono::steady_clock::now() + stat_interval_;
}

FileWatcher::~FileWatcher() {
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

FileWatcher::Identity FileWatcher::identify(const std::string& path) {
    struct stat st;
    Identity id;
    if (::stat(path.c_str(), &st) != 0) return id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    return id;
}

void FileWatcher::mark_seen(const std::string& path) {
    seen_[path] = identify(path);
}

void FileWatcher::drain_inotify(std::set<std::string>& changed) {
    alignas(inotify_event) char buf[8192];
    for (;;) {
        ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
        if (n <= 0) return;
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->len == 0) continue;
            auto it = dir_of_wd_.find(ev->wd);
            if (it == dir_of_wd_.end()) continue;
            std::string path = join(it->second, ev->name);
            auto s = seen_.find(path);
            if (s == seen_.end()) continue;
            // Only report a real change: a rename of the same inode back and forth
            // or a close without writes leaves the identity as it was.
            Identity now = identify(path);
            if (!(now == s->second)) changed.insert(path);
        }
    }
}

void FileWatcher::stat_all(std::set<std::string>& changed) {
    for (auto& [path, id] : seen_) {
        if (!(identify(path) == id)) changed.insert(path);
    }
}

std::set<std::string> FileWatcher::wait(std::chrono::milliseconds timeout, int wake_fd) {
    using Clock = std::chrono::steady_clock;
    std::set<std::string> changed;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto now = Clock::now();
        if (now >= next_stat_) {
            stat_all(changed);
            next_stat_ = now + stat_interval_;
        }
        if (!changed.empty()) break;
        auto until = std::min(deadline, next_stat_);
        if (now >= deadline) return changed;
        pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int ms = static_cast<int>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) +
                 1;
        int r = ::poll(fds, 2, ms);
        if (r > 0 && (fds[1].revents & POLLIN)) return changed;  // woken: caller decides
        if (r > 0 && (fds[0].revents & POLLIN)) drain_inotify(changed);
        if (!changed.empty()) break;
    }
    // Debounce: keep collecting until the directory has been quiet for `debounce_`.
    for (;;) {
        pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int r = ::poll(fds, 2, static_cast<int>(debounce_.count()));
        if (r <= 0 || (fds[1].revents & POLLIN)) break;
        std::set<std::string> more;
        drain_inotify(more);
        // Events for files that were already reported or that did not change
        // still restart the quiet period: the writer is busy in that directory.
        changed.insert(more.begin(), more.end());
    }
    for (const auto& p : changed) seen_[p] = identify(p);
    return changed;
}

}  // namespace signpost::common
