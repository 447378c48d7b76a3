// EventStoreProcess: runs the real dt-eventstore executable for cross-part tests (crash,
// end to end): a temporary data folder, a free port (the server binds port 0 and prints
// it in its "ready:" line), SIGKILL or SIGTERM, and restart on the same folder.
//
// Thread-safety: one controlling thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace dt::testing {

class EventStoreProcess {
 public:
  explicit EventStoreProcess(std::string bin) : bin_(std::move(bin)) {
    char tmpl[] = "/tmp/dt-es-proc.XXXXXX";
    folder_ = mkdtemp(tmpl);
  }
  ~EventStoreProcess() {
    Kill(SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(folder_, ec);
  }

  // Starts the server and waits for its "ready:" line; returns the port.
  uint16_t Start(std::vector<std::string> extra = {}) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<std::string> args = {bin_, "--db", folder_ + "/data", "--http-port", "0",
                                     "--segment-size", "16777216"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin_.c_str(), &fa, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + bin_);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_fd_ = fds[0];
    std::string out;
    std::regex ready("ready: http://[0-9.]+:([0-9]+)/");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buf[4096];
        ssize_t n = read(out_fd_, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
        std::smatch m;
        if (std::regex_search(out, m, ready)) {
          port_ = static_cast<uint16_t>(std::stoi(m[1]));
          output_ = out;
          return port_;
        }
      }
    }
    throw std::runtime_error("dt-eventstore did not become ready: " + out);
  }

  // Sends `sig` and waits for the exit; returns the exit status (or 128+signal).
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (out_fd_ >= 0) {
      char buf[4096];
      ssize_t n;
      int flags = fcntl(out_fd_, F_GETFL);
      fcntl(out_fd_, F_SETFL, flags | O_NONBLOCK);
      while ((n = read(out_fd_, buf, sizeof buf)) > 0) output_.append(buf, static_cast<size_t>(n));
      close(out_fd_);
      out_fd_ = -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  uint16_t port() const { return port_; }
  const std::string& output() const { return output_; }
  const std::string& folder() const { return folder_; }

 private:
  std::string bin_;
  std::string folder_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  uint16_t port_ = 0;
  std::string output_;
};

}  // namespace dt::testing
