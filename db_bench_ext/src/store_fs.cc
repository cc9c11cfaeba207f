// store_fs.cc: see store_fs.h.
#include "store_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace axbench {

bool fs_fail(const char* store, const std::string& what, int e, std::string* err) {
    *err = std::string(store) + ": " + what + ": " + std::strerror(e);
    return false;
}

bool fs_sync_dir(const char* store, const std::string& path, std::string* err) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fs_fail(store, "open " + path, errno, err);
    int rc = ::fsync(fd);
    int e = errno;
    ::close(fd);
    return rc == 0 || fs_fail(store, "fsync " + path, e, err);
}

std::string fs_parent_of(const std::string& path) {
    size_t end = path.find_last_not_of('/');
    if (end == std::string::npos) return "/";
    size_t slash = path.find_last_of('/', end);
    if (slash == std::string::npos) return ".";
    size_t keep = path.find_last_not_of('/', slash);
    return keep == std::string::npos ? "/" : path.substr(0, keep + 1);
}

bool fs_prepare_dir(const char* store, const std::string& path, bool create, bool* created,
                    std::string* err) {
    *created = false;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            *err = std::string(store) + ": " + path + " exists and is not a directory";
            return false;
        }
        return true;
    }
    if (errno != ENOENT) return fs_fail(store, "stat " + path, errno, err);
    if (!create) {
        *err = std::string(store) + ": " + path + " does not exist (and create is false)";
        return false;
    }
    if (::mkdir(path.c_str(), 0755) != 0) return fs_fail(store, "mkdir " + path, errno, err);
    *created = true;
    return true;
}

bool fs_destroy(const char* store, const std::string& path,
                std::initializer_list<std::string> files, std::string* err) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return true;
        return fs_fail(store, "stat " + path, errno, err);
    }
    if (!S_ISDIR(st.st_mode)) {
        *err = std::string(store) + ": destroy: " + path + " is not a directory";
        return false;
    }
    for (const auto& f : files) {
        std::string p = path + "/" + f;
        if (::unlink(p.c_str()) != 0 && errno != ENOENT)
            return fs_fail(store, "unlink " + p, errno, err);
    }
    // Files that are not the store's (put there by someone else) keep the directory.
    if (::rmdir(path.c_str()) != 0 && errno != ENOTEMPTY && errno != EEXIST)
        return fs_fail(store, "rmdir " + path, errno, err);
    return true;
}

}  // namespace axbench
