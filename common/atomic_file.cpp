#include "common/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace signpost::common {

bool write_synced(const std::string& tmp, std::string_view content, std::string& error) {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = "cannot create " + tmp + ": " + std::strerror(errno);
        return false;
    }
    auto fail = [&](const char* what) {
        error = std::string(what) + " " + tmp + ": " + std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    };
    for (std::size_t off = 0; off < content.size();) {
        const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("writing");
        if (n == 0) {
            errno = EIO;
            return fail("writing");
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("syncing");
    if (::close(fd) != 0) {
        error = "closing " + tmp + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    return true;
}

bool rename_synced(const std::string& tmp, const std::string& path, std::string& error) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {  // the rename itself survives a crash
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

std::string temp_name(const std::string& path) {
    return path + ".tmp." + std::to_string(::getpid());
}

bool replace_file(const std::string& path, std::string_view content, std::string& error) {
    const std::string tmp = temp_name(path);
    return write_synced(tmp, content, error) && rename_synced(tmp, path, error);
}

}  // namespace signpost::common
