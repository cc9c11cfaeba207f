// store_fs.h: the directory chores of the stores that keep files of their own in cfg.path
// (lmdb, sqlite). Every message starts with the store's name ("lmdb: mkdir /x: ...").
#pragma once

#include <initializer_list>
#include <string>

namespace axbench {

// Sets *err to "<store>: <what>: strerror(e)"; returns false (for `return fs_fail(...)`).
bool fs_fail(const char* store, const std::string& what, int e, std::string* err);
// fsync of a directory, so the entries of files created in it survive a power loss.
bool fs_sync_dir(const char* store, const std::string& path, std::string* err);
// The directory that holds path ("." for a bare name, "/" for the root).
std::string fs_parent_of(const std::string& path);
// The database directory exists as a directory, or is made when create is true; *created
// says whether this call made it.
bool fs_prepare_dir(const char* store, const std::string& path, bool create, bool* created,
                    std::string* err);
// Removes the named files of the database in path (missing ones are fine), then the directory
// unless it holds files that are not the store's. A missing path is not an error.
bool fs_destroy(const char* store, const std::string& path,
                std::initializer_list<std::string> files, std::string* err);

}  // namespace axbench
