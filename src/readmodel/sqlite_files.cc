#include "readmodel/sqlite_files.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace dt::readmodel::sqlite_files {
namespace fs = std::filesystem;

namespace {

std::string FolderOf(const std::string& path) {
  std::string dir = fs::path(path).parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

Status Errno(const std::string& what) {
  return Status::IOError(what + ": " + std::strerror(errno));
}

// <path>.switches mapped shared (created, 8 zero bytes, when missing); nullptr when it
// cannot be.
uint64_t* MapSwitchCounter(const std::string& path) {
  int fd = ::open(SwitchCounterFile(path).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* p = MAP_FAILED;
  // Growing it only: a file another process already uses keeps its count.
  if (::fstat(fd, &st) == 0 &&
      (st.st_size >= static_cast<off_t>(sizeof(uint64_t)) ||
       ::ftruncate(fd, sizeof(uint64_t)) == 0)) {
    p = ::mmap(nullptr, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  ::close(fd);
  return p == MAP_FAILED ? nullptr : static_cast<uint64_t*>(p);
}

}  // namespace

std::string SwitchCounterFile(const std::string& path) { return path + ".switches"; }

LiveFileWatch::LiveFileWatch(std::string path)
    : path_(std::move(path)), switches_(MapSwitchCounter(path_)) {}

LiveFileWatch::~LiveFileWatch() {
  if (switches_) ::munmap(switches_, sizeof(uint64_t));
}

std::string LiveFileWatch::Current() {
  if (!switches_) return LiveFile(path_);
  // Loaded before the link is read: a switch in between is seen again at the next call.
  uint64_t n = __atomic_load_n(switches_, __ATOMIC_ACQUIRE);
  std::lock_guard lock(mu_);
  if (n != seen_) {
    live_ = LiveFile(path_);
    seen_ = n;
  }
  return live_;
}

std::string LiveFile(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return path;  // a regular file (EINVAL) or none yet (ENOENT)
  std::string target(buf, static_cast<size_t>(n));
  if (target.front() == '/') return target;
  std::string dir = fs::path(path).parent_path().string();
  return dir.empty() ? target : dir + "/" + target;
}

std::string GenerationFile(const std::string& path, int64_t generation) {
  return path + ".g" + std::to_string(generation);
}

Status SyncFile(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open " + file);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync " + file);
  return Status::Ok();
}

void StartWriteBack(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  ::close(fd);
}

Status SyncFolderOf(const std::string& path) {
  std::string dir = FolderOf(path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open folder " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync folder " + dir);
  return Status::Ok();
}

Status PointLiveAt(const std::string& path, const std::string& file) {
  std::string target = fs::path(file).filename().string();
  std::string tmp = path + ".link-tmp";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return Errno("cannot make link " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Errno("cannot rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return s;
  }
  // After the rename: a store that sees the count move reads the new link.
  uint64_t* switches = MapSwitchCounter(path);
  if (!switches) return Errno("cannot map " + SwitchCounterFile(path));
  __atomic_add_fetch(switches, 1, __ATOMIC_RELEASE);
  ::munmap(switches, sizeof(uint64_t));
  return SyncFolderOf(path);
}

void RemoveDatabase(const std::string& file) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    ::unlink((file + suffix).c_str());
  }
}

void RemoveOtherGenerations(const std::string& path, const std::string& keep) {
  const std::string prefix = fs::path(path).filename().string() + ".g";
  const std::string keep_name = fs::path(keep).filename().string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(FolderOf(path), ec)) {
    std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // "<name>.g<digits>" and its "-wal", "-shm", "-journal".
    size_t end = prefix.size();
    while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
    if (end == prefix.size()) continue;
    std::string rest = name.substr(end);
    if (!rest.empty() && rest != "-wal" && rest != "-shm" && rest != "-journal" &&
        rest != ".building") {
      continue;
    }
    if (name.substr(0, end) == keep_name) continue;
    ::unlink(entry.path().c_str());
  }
}

}  // namespace dt::readmodel::sqlite_files
