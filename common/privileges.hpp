#pragma once
// Who may use a daemon's Unix sockets, and the identity a daemon started as
// root drops to once its sockets are bound.

#include <sys/types.h>

#include <optional>
#include <string>

namespace signpost::common {

// A Unix socket's permissions: connecting needs write permission on the
// socket file, so mode 0660 with a group lets exactly the owner and the
// group's members in.
struct SocketAccess {
    unsigned mode = 0660;
    std::string group;  // empty: the process's own group (or, dropping root, the user's)
    // The owner and group the socket gets when the daemon drops root to a user
    // (-1: leave as created), so that the user can still use and remove it.
    uid_t owner = static_cast<uid_t>(-1);
    gid_t owner_group = static_cast<gid_t>(-1);
};

// "0660", "660", "0o660": an octal mode of at most 0777. nullopt otherwise.
std::optional<unsigned> parse_socket_mode(const std::string& text);
std::string mode_text(unsigned mode);  // "0660"

// A group by name or number; nullopt with `error` naming it when unknown.
std::optional<gid_t> lookup_group(const std::string& name, std::string& error);

// Gives the bound (not yet listening) socket file at `path` its owner, group
// and mode. Done between bind() and listen(), so that nobody can connect
// while the file still has the umask's permissions; never through a symlink
// (the directory holding sockets must not be writable by others anyway).
bool apply_socket_access(const std::string& path, const SocketAccess& access, std::string& error);

// The identity to run as after binding: a user (by name or number) and its
// group, or the group named. Resolved before anything is bound, so that a
// typo is a startup error, not a half-started daemon.
struct RunAs {
    std::string user, group;  // as configured
    uid_t uid = 0;
    gid_t gid = 0;
};
std::optional<RunAs> resolve_run_as(const std::string& user, const std::string& group,
                                    std::string& error);

// setgroups/setgid/setuid to `who`, for every thread, then checks that root
// cannot be regained. Not started as root: nothing to do when already `who`
// (a unit's User=), else an error. False with `error` on any failure (the
// caller exits).
bool drop_privileges(const RunAs& who, std::string& error);

// The start-up rule for both daemons: root without a user to drop to is
// refused unless the operator said so (`allow_root`). Returns the error to
// print, or empty when starting is fine.
std::string root_refusal(const char* daemon, bool have_user, bool allow_root,
                         const char* how_to_set_user);

// Both together, as every daemon starts: false with `error` (ready to log)
// when it must not run; else `run_as` is who to become once the sockets are
// bound (empty: nobody). `where` names the setting in errors ("--user",
// "dnsd.toml: [server] user").
bool plan_run_as(const char* daemon, const std::string& user, const std::string& group,
                 bool allow_root, const char* how_to_set_user, const std::string& where,
                 std::optional<RunAs>& run_as, std::string& error);

}  // namespace signpost::common
