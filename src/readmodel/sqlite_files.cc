#include "readmodel/sqlite_files.h"

#include <fcntl.h>
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

}  // namespace

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
