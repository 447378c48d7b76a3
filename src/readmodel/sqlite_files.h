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
// Following a switch made by another process without a readlink(2) per query: every switch
// (PointLiveAt) adds one to a counter in <path>.switches, which each store maps shared; a
// store reads the link again only when that counter moved (LiveFileWatch), so a query costs
// a load from shared memory. The counter is bumped after the rename, so whoever sees it move
// finds the new link. A link replaced by hand (not by PointLiveAt) is followed once the store
// reopens.
//
// Thread-safety: plain functions over the file system; LiveFileWatch is thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "common/status.h"

namespace dt::readmodel::sqlite_files {

// The file the live read model is in now: <path>'s link target (in <path>'s folder), or
// <path> itself (a regular file, or nothing yet).
std::string LiveFile(const std::string& path);

// LiveFile(path), read again only after a switch (see above). Without the shared counter
// (it cannot be created or mapped) it reads the link every time.
class LiveFileWatch {
 public:
  explicit LiveFileWatch(std::string path);
  ~LiveFileWatch();
  LiveFileWatch(const LiveFileWatch&) = delete;
  LiveFileWatch& operator=(const LiveFileWatch&) = delete;

  std::string Current();

 private:
  const std::string path_;
  uint64_t* switches_ = nullptr;  // in the shared mapping of <path>.switches
  std::mutex mu_;
  uint64_t seen_ = ~uint64_t{0};  // GUARDED_BY(mu_): switches_ when live_ was read
  std::string live_;              // GUARDED_BY(mu_)
};

// <path>.switches (see above).
std::string SwitchCounterFile(const std::string& path);

// <path>.g<generation>.
std::string GenerationFile(const std::string& path, int64_t generation);

// Makes <path> a link to `file` (which is in <path>'s folder) atomically and durably, and
// counts the switch in <path>.switches.
Status PointLiveAt(const std::string& path, const std::string& file);

// fsync of a file / of the folder a path is in.
Status SyncFile(const std::string& file);
Status SyncFolderOf(const std::string& path);
// Starts the write-back of a file's dirty pages without waiting for it (sync_file_range
// SYNC_FILE_RANGE_WRITE), so that a later SyncFile has less left to wait for. Best effort.
void StartWriteBack(const std::string& file);

// Unlinks a database file and its -wal, -shm and -journal (those missing are fine).
void RemoveDatabase(const std::string& file);

// Unlinks every "<name>.g<N>" database in <path>'s folder except `keep` (a live file, or a
// file being built): generations left behind by a crash.
void RemoveOtherGenerations(const std::string& path, const std::string& keep);

}  // namespace dt::readmodel::sqlite_files
