#include "store/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <linux/falloc.h>

namespace dt::store {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  Status s = Status::IOError(std::string(what) + " " + path + ": " + std::strerror(err));
  return s;
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* got) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        *got = done;
        return Errno("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    *got = done;
    return Status::Ok();
  }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t r = ::pwrite(fd_, data.data() + done, data.size() - done,
                           static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Errno("write", path_, errno);
      }
      done += static_cast<size_t>(r);
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_, errno);
    return Status::Ok();
  }

  Status Allocate(uint64_t offset, uint64_t len) override {
    int r = ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
    if (r == 0) return Status::Ok();
    if (errno != EOPNOTSUPP) return Errno("fallocate", path_, errno);
    // File systems without fallocate: posix_fallocate writes zeros itself.
    r = ::posix_fallocate(fd_, static_cast<off_t>(offset), static_cast<off_t>(len));
    if (r != 0) return Errno("posix_fallocate", path_, r);
    return Status::Ok();
  }

  Status ZeroRange(uint64_t offset, uint64_t len) override {
    if (len == 0) return Status::Ok();
    if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset),
                    static_cast<off_t>(len)) == 0)
      return Status::Ok();
    // Fallback: write zeros.
    std::string zeros(std::min<uint64_t>(len, 1 << 20), '\0');
    uint64_t done = 0;
    while (done < len) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), len - done));
      DT_RETURN_IF_ERROR(WriteAt(offset + done, std::string_view(zeros.data(), n)));
      done += n;
    }
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Errno("truncate", path_, errno);
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Errno("stat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT; break;
      case OpenMode::kTruncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return Errno("open", path, errno);
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }

  Status CreateDir(const std::string& path) override {
    std::string partial;
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      partial = path.substr(0, j);
      if (!partial.empty() && ::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
        return Errno("mkdir", partial, errno);
      i = j + 1;
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (!d) return Errno("opendir", path, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("remove", path, errno);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename", from, errno);
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open", path, errno);
    int r = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (r != 0) return Errno("fsync", path, err);
    return Status::Ok();
  }

  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char buf[32] = {};
      ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      ::close(fd);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "unknown";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      if (err == EWOULDBLOCK)
        return Status::IOError("the data folder is in use by process " + holder + " (lock file " +
                               path + "); stop that process or use another folder");
      return Errno("lock", path, err);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      int err = errno;
      ::close(fd);
      return Errno("write", path, err);
    }
    return std::unique_ptr<FileLock>(new PosixLock(fd));
  }
};

}  // namespace

FileSystem* FileSystem::Default() {
  static PosixFileSystem fs;
  return &fs;
}

Status WriteFileAtomically(FileSystem& fs, const std::string& folder, const std::string& name,
                           std::string_view data) {
  const std::string tmp = folder + "/" + name + ".tmp";
  const std::string dst = folder + "/" + name;
  {
    DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.Open(tmp, FileSystem::OpenMode::kTruncate));
    DT_RETURN_IF_ERROR(f->WriteAt(0, data));
    DT_RETURN_IF_ERROR(f->Sync());
  }
  DT_RETURN_IF_ERROR(fs.Rename(tmp, dst));
  return fs.SyncDir(folder);
}

Result<std::string> ReadWholeFile(FileSystem& fs, const std::string& path) {
  DT_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs.Open(path, FileSystem::OpenMode::kRead));
  DT_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  std::string s(static_cast<size_t>(size), '\0');
  size_t got = 0;
  DT_RETURN_IF_ERROR(f->ReadAt(0, s.size(), s.data(), &got));
  s.resize(got);
  return s;
}

}  // namespace dt::store
