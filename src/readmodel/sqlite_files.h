// The files of a SQLite read model, and the pointer that names the live one.
//
// DATABASE_URL names <path>. The live read model is either
//   - <path> itself, a regular SQLite file: a database never rebuilt (generation 0), or
//   - <path> a symbolic link to "<name>.g<N>" in the same folder (<name> = <path>'s file
//     name): the database the rebuild of generation N wrote.
// A rebuild writes <path>.g<N> beside the live file (no journal, no fsync per batch: the
// file is worthless until complete), syncs it, then replaces <path> by a link to it with
// rename(2), which is atomic, and syncs the folder. A crash before the rename leaves the old
// model live (the next rebuild removes the half-built file); after it, the new one is live.
// SQLite resolves links when it opens a file, so `sqlite3 <path>` opens the live model too;
// the store itself opens LiveFile(path) explicitly, so a switch between resolving and
// opening cannot mix two generations.
//
// Files that belong to one database: the file, "-wal", "-shm" and "-journal" beside it.
//
// Thread-safety: plain functions over the file system.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace dt::readmodel::sqlite_files {

// The file the live read model is in now: <path>'s link target (in <path>'s folder), or
// <path> itself (a regular file, or nothing yet).
std::string LiveFile(const std::string& path);

// <path>.g<generation>.
std::string GenerationFile(const std::string& path, int64_t generation);

// Makes <path> a link to `file` (which is in <path>'s folder) atomically and durably.
Status PointLiveAt(const std::string& path, const std::string& file);

// fsync of a file / of the folder a path is in.
Status SyncFile(const std::string& file);
Status SyncFolderOf(const std::string& path);

// Unlinks a database file and its -wal, -shm and -journal (those missing are fine).
void RemoveDatabase(const std::string& file);

// Unlinks every "<name>.g<N>" database in <path>'s folder except `keep` (a live file, or a
// file being built): generations left behind by a crash.
void RemoveOtherGenerations(const std::string& path, const std::string& keep);

}  // namespace dt::readmodel::sqlite_files
