// fs.h: the file-system seam. Every byte the engine reads or writes in its data folder
// (segments, writer.chk, store.meta, LOCK) goes through these interfaces, so tests can
// substitute a FaultInjectionFileSystem (fault_fs.h) that drops unsynced bytes, tears
// writes, fails fsync or runs out of space. (The RocksDB index is the one exception: it
// uses RocksDB's own Env; it is derived data and is rebuilt from the log when missing.)
//
// Thread-safety: a FileSystem may be used from any thread. A File's ReadAt/WriteAt/Sync
// may be called concurrently (they are positional: pread/pwrite/fdatasync).
// Lifetime: Files and FileLocks must not outlive the FileSystem that made them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dt::store {

class File {
 public:
  virtual ~File() = default;
  // Reads up to n bytes at offset into dst; *got is less than n only at the end of the file.
  virtual Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* got) = 0;
  // Writes all of data at offset (the file grows if needed). Not durable until Sync().
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // fdatasync: makes every earlier write durable. A failure means some earlier writes may
  // be lost even if a later Sync succeeds: callers must not retry and trust it.
  virtual Status Sync() = 0;
  // Reserves [offset, offset + len) on disk (fallocate), reading as zeros where unwritten.
  virtual Status Allocate(uint64_t offset, uint64_t len) = 0;
  // Makes [offset, offset + len) read as zeros without freeing the space (not durable
  // until Sync()).
  virtual Status ZeroRange(uint64_t offset, uint64_t len) = 0;
  // Sets the file's size (cutting or extending with zeros).
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
  virtual const std::string& path() const = 0;
};

class FileLock {
 public:
  virtual ~FileLock() = default;  // releases the lock
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The real POSIX file system (a process-wide instance).
  static FileSystem* Default();

  enum class OpenMode {
    kRead,             // existing file, read only
    kReadWrite,        // existing file
    kCreate,           // read/write, created if missing
    kTruncate,         // read/write, created if missing, emptied if present
  };
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  // Creates the folder and its missing parents.
  virtual Status CreateDir(const std::string& path) = 0;
  // Names (not paths) of the entries of a folder, unsorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Atomically replaces `to` by `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Makes the folder's entries (created, removed, renamed files) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (created if missing) and writes the caller's pid
  // into it. When another process (or another open in this one) holds it: kIOError whose
  // message names the holder's pid.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
};

// Writes `data` to `path` durably and atomically (temp file, sync, rename, sync folder).
Status WriteFileAtomically(FileSystem& fs, const std::string& folder, const std::string& name,
                           std::string_view data);
// Reads a whole (small) file.
Result<std::string> ReadWholeFile(FileSystem& fs, const std::string& path);

}  // namespace dt::store
