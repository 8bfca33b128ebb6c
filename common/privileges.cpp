#include "common/privileges.hpp"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace signpost::common {

namespace {

std::optional<unsigned long> number(const std::string& s) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    unsigned long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

// getpwnam_r or getgrnam_r, with a buffer grown until the entry fits:
// the entry, or nullptr when there is none.
template <class Entry, class Lookup>
const Entry* lookup_entry(Lookup lookup, int size_hint, const std::string& name, Entry& entry,
                          std::vector<char>& buf) {
    const long n = ::sysconf(size_hint);
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 16384);
    Entry* found = nullptr;
    while (lookup(name.c_str(), &entry, buf.data(), buf.size(), &found) == ERANGE)
        buf.resize(buf.size() * 2);
    return found;
}

}  // namespace

std::optional<unsigned> parse_socket_mode(const std::string& text) {
    std::string s = text;
    if (s.rfind("0o", 0) == 0) s = s.substr(2);
    if (s.empty() || s.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '7') return std::nullopt;
        v = v * 8 + static_cast<unsigned>(c - '0');
    }
    if (v > 0777) return std::nullopt;
    return v;
}

std::string mode_text(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
    return buf;
}

std::optional<gid_t> lookup_group(const std::string& name, std::string& error) {
    std::vector<char> buf;
    group gr{};
    if (const group* found = lookup_entry(::getgrnam_r, _SC_GETGR_R_SIZE_MAX, name, gr, buf))
        return found->gr_gid;
    if (auto n = number(name)) return static_cast<gid_t>(*n);
    error = "unknown group '" + name + "'";
    return std::nullopt;
}

bool apply_socket_access(const std::string& path, const SocketAccess& access, std::string& error) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        error = path + ": not the socket just bound (replaced meanwhile?)";
        return false;
    }
    gid_t gid = access.owner_group;
    if (!access.group.empty()) {
        const auto g = lookup_group(access.group, error);
        if (!g) {
            error = path + ": " + error;
            return false;
        }
        gid = *g;
    }
    if ((access.owner != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
        ::fchownat(AT_FDCWD, path.c_str(), access.owner, gid, AT_SYMLINK_NOFOLLOW) != 0) {
        error = "chown " + path + ": " + std::strerror(errno);
        return false;
    }
    if (::chmod(path.c_str(), access.mode) != 0) {
        error = "chmod " + mode_text(access.mode) + " " + path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

std::optional<RunAs> resolve_run_as(const std::string& user, const std::string& group,
                                    std::string& error) {
    RunAs r;
    r.user = user;
    r.group = group;
    if (user.empty()) {
        error = "a group to run as needs a user to run as";
        return std::nullopt;
    }
    std::vector<char> buf;
    passwd pw{};
    if (const passwd* found = lookup_entry(::getpwnam_r, _SC_GETPW_R_SIZE_MAX, user, pw, buf)) {
        r.uid = found->pw_uid;
        r.gid = found->pw_gid;
    } else if (auto n = number(user)) {
        r.uid = static_cast<uid_t>(*n);
        r.gid = static_cast<gid_t>(*n);
        if (group.empty()) {
            error = "user " + user + " is a number with no account: name its group too";
            return std::nullopt;
        }
    } else {
        error = "unknown user '" + user + "'";
        return std::nullopt;
    }
    if (!group.empty()) {
        const auto g = lookup_group(group, error);
        if (!g) return std::nullopt;
        r.gid = *g;
    }
    if (r.uid == 0) {
        error = "user " + user + " is root: name an unprivileged user";
        return std::nullopt;
    }
    return r;
}

bool drop_privileges(const RunAs& who, std::string& error) {
    if (::geteuid() != 0) {
        if (::getuid() == who.uid && ::getgid() == who.gid) return true;  // already (User=)
        error = "started as uid " + std::to_string(::getuid()) + ", not root: cannot become " +
                who.user + " (leave the user setting out, or start as root)";
        return false;
    }
    // Supplementary groups: exactly the one named (the daemon needs no other).
    if (::setgroups(1, &who.gid) != 0) {
        error = std::string("setgroups: ") + std::strerror(errno);
        return false;
    }
    if (::setgid(who.gid) != 0) {
        error = "setgid " + std::to_string(who.gid) + ": " + std::strerror(errno);
        return false;
    }
    if (::setuid(who.uid) != 0) {
        error = "setuid " + who.user + ": " + std::strerror(errno);
        return false;
    }
    if (::setuid(0) == 0 || ::geteuid() == 0) {
        error = "root could be regained after dropping to " + who.user;
        return false;
    }
    return true;
}

std::string root_refusal(const char* daemon, bool have_user, bool allow_root,
                         const char* how_to_set_user) {
    if (::geteuid() != 0 || have_user || allow_root) return {};
    return std::string("refusing to run as root: ") + how_to_set_user + " so that " + daemon +
           " drops root once its sockets are bound, or pass --allow-root to keep it (under "
           "systemd, the unit's User= does this)";
}

bool plan_run_as(const char* daemon, const std::string& user, const std::string& group,
                 bool allow_root, const char* how_to_set_user, const std::string& where,
                 std::optional<RunAs>& run_as, std::string& error) {
    error = root_refusal(daemon, !user.empty(), allow_root, how_to_set_user);
    if (!error.empty()) return false;
    run_as.reset();
    if (user.empty()) return true;
    std::string why;
    run_as = resolve_run_as(user, group, why);
    if (!run_as) error = where + ": " + why;
    return run_as.has_value();
}

}  // namespace signpost::common
