// fault_fs.h: a FileSystem for tests that injects the faults real disks and kernels have.
//
// It passes everything to a real file system and remembers, per file, every write not yet
// covered by a Sync (with the bytes it replaced). DropUnsyncedData() then does to the
// files what a power cut does: unsynced writes vanish (optionally leaving a torn prefix of
// the last one), and files created since their folder's last SyncDir disappear.
// Faults on demand: failing fsync (which, as on Linux, also loses that file's unsynced
// writes), a disk that runs out of space, and a "crashed" mode in which nothing reaches
// the disk any more.
//
// Thread-safety: all methods may be called from any thread.
// Lifetime: the base FileSystem must outlive it; it must outlive its Files.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/fs.h"

namespace dt::store {

class FaultInjectionFileSystem final : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(FileSystem* base = FileSystem::Default()) : base_(base) {}

  // Every later Sync fails with EIO (and loses that file's unsynced writes).
  void FailSyncs(bool fail);
  // The next `successful` file Syncs succeed, every one after them fails as FailSyncs(true)
  // (counting from the call; a Sync blocked by BlockSyncs counts when it goes on).
  void FailSyncsAfter(uint64_t successful);
  // Growing files (writes past the end, allocations) by more than this many bytes fails
  // with ENOSPC; writes inside allocated space still work, as on a real disk.
  // nullopt: unlimited.
  void SetSpaceLeft(std::optional<uint64_t> bytes);
  // Every later write fails with EIO.
  void FailWrites(bool fail);
  // true: Sync calls wait (their writes stay unsynced) until unblocked or deactivated.
  void BlockSyncs(bool block);
  // Waits until a Sync is blocked (true) or `timeout` passes (false).
  bool WaitForBlockedSync(std::chrono::milliseconds timeout);
  // false: the "process crashed": every write, sync, allocation fails and changes nothing.
  void SetActive(bool active);
  // The power cut: reverts unsynced writes (keeping the first torn_prefix bytes of the
  // most recent one, to tear a record), removes files created since their folder's last
  // sync. Call with no store open on these files.
  Status DropUnsyncedData(uint64_t torn_prefix = 0);
  uint64_t syncs() const;
  uint64_t unsynced_writes() const;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Status CreateDir(const std::string& path) override { return base_->CreateDir(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override { return base_->ListDir(path); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Status Remove(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override { return base_->Lock(path); }

 private:
  friend class FaultFile;
  struct Undo {
    uint64_t seq;
    std::string path;
    uint64_t offset;
    std::string old_bytes;   // bytes replaced (may be shorter than the write past EOF)
    uint64_t old_size;       // file size before the write
    uint64_t new_len;        // bytes written
  };
  Status Down() const { return Status::IOError("injected: the file system is down (simulated crash)"); }
  Status RecordUndo(File& base, const std::string& path, uint64_t offset, uint64_t len);
  Status RevertFile(const std::string& path, File* base);  // requires mu_
  Status ConsumeSpace(uint64_t grow);

  FileSystem* base_;
  mutable std::mutex mu_;
  bool fail_syncs_ = false;              // GUARDED_BY(mu_)
  std::optional<uint64_t> syncs_before_failure_;  // GUARDED_BY(mu_)
  bool fail_writes_ = false;             // GUARDED_BY(mu_)
  std::optional<uint64_t> space_left_;   // GUARDED_BY(mu_)
  bool active_ = true;                   // GUARDED_BY(mu_)
  bool block_syncs_ = false;             // GUARDED_BY(mu_)
  int blocked_ = 0;                      // GUARDED_BY(mu_): Syncs waiting
  std::condition_variable cv_;
  uint64_t seq_ = 0;                     // GUARDED_BY(mu_)
  uint64_t syncs_ = 0;                   // GUARDED_BY(mu_)
  std::vector<Undo> undo_;               // GUARDED_BY(mu_)
  std::set<std::string> created_;        // GUARDED_BY(mu_): created since the folder's sync
};

}  // namespace dt::store
