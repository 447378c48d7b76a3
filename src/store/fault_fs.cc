#include "store/fault_fs.h"

#include <algorithm>

namespace dt::store {

namespace {
std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}
}  // namespace

class FaultFile final : public File {
 public:
  FaultFile(FaultInjectionFileSystem& fs, std::unique_ptr<File> base)
      : fs_(fs), base_(std::move(base)) {}

  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* got) override {
    return base_->ReadAt(offset, n, dst, got);
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    std::lock_guard lock(fs_.mu_);
    if (!fs_.active_) return fs_.Down();
    if (fs_.fail_writes_) return Status::IOError("write " + path() + ": Input/output error (injected)");
    DT_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    const uint64_t end = offset + data.size();
    DT_RETURN_IF_ERROR(fs_.ConsumeSpace(end > size ? end - size : 0));
    DT_RETURN_IF_ERROR(fs_.RecordUndo(*base_, path(), offset, data.size()));
    return base_->WriteAt(offset, data);
  }

  Status Sync() override {
    std::unique_lock lock(fs_.mu_);
    if (fs_.block_syncs_ && fs_.active_) {
      ++fs_.blocked_;
      fs_.cv_.notify_all();
      fs_.cv_.wait(lock, [&] { return !fs_.block_syncs_ || !fs_.active_; });
      --fs_.blocked_;
    }
    if (!fs_.active_) return fs_.Down();
    ++fs_.syncs_;
    if (fs_.syncs_before_failure_) {
      if (*fs_.syncs_before_failure_ == 0) fs_.fail_syncs_ = true;
      else --*fs_.syncs_before_failure_;
    }
    if (fs_.fail_syncs_) {
      // As on Linux: the failed writeback's pages are dropped; the data is gone.
      (void)fs_.RevertFile(path(), base_.get());
      return Status::IOError("fdatasync " + path() + ": Input/output error (injected)");
    }
    DT_RETURN_IF_ERROR(base_->Sync());
    std::erase_if(fs_.undo_, [&](const FaultInjectionFileSystem::Undo& u) { return u.path == path(); });
    return Status::Ok();
  }

  Status Allocate(uint64_t offset, uint64_t len) override {
    std::lock_guard lock(fs_.mu_);
    if (!fs_.active_) return fs_.Down();
    DT_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    const uint64_t grow = offset + len > size ? offset + len - size : 0;
    DT_RETURN_IF_ERROR(fs_.ConsumeSpace(grow));
    return base_->Allocate(offset, len);
  }

  Status ZeroRange(uint64_t offset, uint64_t len) override {
    std::lock_guard lock(fs_.mu_);
    if (!fs_.active_) return fs_.Down();
    DT_RETURN_IF_ERROR(fs_.RecordUndo(*base_, path(), offset, len));
    return base_->ZeroRange(offset, len);
  }

  Status Truncate(uint64_t size) override {
    std::lock_guard lock(fs_.mu_);
    if (!fs_.active_) return fs_.Down();
    DT_ASSIGN_OR_RETURN(uint64_t old, base_->Size());
    if (size < old) DT_RETURN_IF_ERROR(fs_.RecordUndo(*base_, path(), size, old - size));
    return base_->Truncate(size);
  }

  Result<uint64_t> Size() override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionFileSystem& fs_;
  std::unique_ptr<File> base_;
};

void FaultInjectionFileSystem::FailSyncs(bool fail) {
  std::lock_guard lock(mu_);
  fail_syncs_ = fail;
  syncs_before_failure_.reset();
}

void FaultInjectionFileSystem::FailSyncsAfter(uint64_t successful) {
  std::lock_guard lock(mu_);
  syncs_before_failure_ = successful;
}

void FaultInjectionFileSystem::FailWrites(bool fail) {
  std::lock_guard lock(mu_);
  fail_writes_ = fail;
}

void FaultInjectionFileSystem::SetSpaceLeft(std::optional<uint64_t> bytes) {
  std::lock_guard lock(mu_);
  space_left_ = bytes;
}

void FaultInjectionFileSystem::SetActive(bool active) {
  {
    std::lock_guard lock(mu_);
    active_ = active;
  }
  cv_.notify_all();
}

void FaultInjectionFileSystem::BlockSyncs(bool block) {
  {
    std::lock_guard lock(mu_);
    block_syncs_ = block;
  }
  cv_.notify_all();
}

bool FaultInjectionFileSystem::WaitForBlockedSync(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return blocked_ > 0; });
}

uint64_t FaultInjectionFileSystem::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

uint64_t FaultInjectionFileSystem::unsynced_writes() const {
  std::lock_guard lock(mu_);
  return undo_.size();
}

Status FaultInjectionFileSystem::ConsumeSpace(uint64_t grow) {
  if (!space_left_ || grow == 0) return Status::Ok();
  if (grow > *space_left_) return Status::IOError("No space left on device (injected)");
  *space_left_ -= grow;
  return Status::Ok();
}

Status FaultInjectionFileSystem::RecordUndo(File& base, const std::string& path, uint64_t offset,
                                            uint64_t len) {
  Undo u;
  u.seq = ++seq_;
  u.path = path;
  u.offset = offset;
  u.new_len = len;
  DT_ASSIGN_OR_RETURN(u.old_size, base.Size());
  if (offset < u.old_size) {
    u.old_bytes.resize(static_cast<size_t>(std::min(len, u.old_size - offset)));
    size_t got = 0;
    DT_RETURN_IF_ERROR(base.ReadAt(offset, u.old_bytes.size(), u.old_bytes.data(), &got));
    u.old_bytes.resize(got);
  }
  undo_.push_back(std::move(u));
  return Status::Ok();
}

Status FaultInjectionFileSystem::RevertFile(const std::string& path, File* base) {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->path != path) continue;
    if (!it->old_bytes.empty()) DT_RETURN_IF_ERROR(base->WriteAt(it->offset, it->old_bytes));
    // Bytes past the old end: zeros (as unwritten space reads), then restore the size.
    if (it->offset + it->new_len > it->old_size) DT_RETURN_IF_ERROR(base->Truncate(it->old_size));
  }
  std::erase_if(undo_, [&](const Undo& u) { return u.path == path; });
  return Status::Ok();
}

Status FaultInjectionFileSystem::DropUnsyncedData(uint64_t torn_prefix) {
  std::lock_guard lock(mu_);
  // Tear the most recent write: keep its first torn_prefix bytes.
  if (torn_prefix > 0 && !undo_.empty()) {
    Undo& last = undo_.back();
    const uint64_t keep = std::min(torn_prefix, last.new_len);
    if (keep < last.old_bytes.size()) {
      last.old_bytes.erase(0, static_cast<size_t>(keep));
    } else {
      last.old_bytes.clear();
    }
    last.offset += keep;
    last.new_len -= keep;
    if (last.new_len == 0) undo_.pop_back();
  }
  std::set<std::string> paths;
  for (const Undo& u : undo_) paths.insert(u.path);
  for (const std::string& p : paths) {
    if (created_.count(p)) continue;  // removed below anyway
    DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->Open(p, OpenMode::kReadWrite));
    DT_RETURN_IF_ERROR(RevertFile(p, f.get()));
  }
  undo_.clear();
  for (const std::string& p : created_)
    if (base_->Exists(p)) DT_RETURN_IF_ERROR(base_->Remove(p));
  created_.clear();
  return Status::Ok();
}

Result<std::unique_ptr<File>> FaultInjectionFileSystem::Open(const std::string& path, OpenMode mode) {
  std::lock_guard lock(mu_);
  const bool creating = (mode == OpenMode::kCreate || mode == OpenMode::kTruncate) && !base_->Exists(path);
  if (creating && !active_) return Down();
  if (mode == OpenMode::kTruncate && !creating) {
    // Truncation of an existing file is a write we can undo.
    DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->Open(path, OpenMode::kReadWrite));
    DT_ASSIGN_OR_RETURN(uint64_t size, f->Size());
    if (size > 0) DT_RETURN_IF_ERROR(RecordUndo(*f, path, 0, size));
  }
  DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->Open(path, mode));
  if (creating) created_.insert(path);
  return std::unique_ptr<File>(new FaultFile(*this, std::move(f)));
}

Status FaultInjectionFileSystem::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  if (!active_) return Down();
  created_.erase(path);
  std::erase_if(undo_, [&](const Undo& u) { return u.path == path; });
  return base_->Remove(path);
}

Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (!active_) return Down();
  DT_RETURN_IF_ERROR(base_->Rename(from, to));
  for (Undo& u : undo_)
    if (u.path == from) u.path = to;
  if (created_.erase(from)) created_.insert(to);
  return Status::Ok();
}

Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  std::lock_guard lock(mu_);
  if (!active_) return Down();
  ++syncs_;
  if (fail_syncs_) return Status::IOError("fsync " + path + ": Input/output error (injected)");
  DT_RETURN_IF_ERROR(base_->SyncDir(path));
  std::erase_if(created_, [&](const std::string& p) { return Parent(p) == path; });
  return Status::Ok();
}

}  // namespace dt::store
