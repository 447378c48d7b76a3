// Test support: a dt-eventstore process for tests of the remote client and of the API over
// it. Header-only; tests only.
//
// Tests use, in this order of preference:
//   DT_TEST_EVENTSTORE_URL (+ DT_TEST_EVENTSTORE_USERNAME/PASSWORD): a server already running,
//     e.g. a real EventStoreDB/KurrentDB node started with AtomPub over HTTP enabled;
//   a dt-eventstore process started here (DT_EVENTSTORE_BIN from the build, or the
//     DT_EVENTSTORE_BIN environment variable).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace dt::client::testing {

inline std::string EventStoreBin() {
  if (const char* b = std::getenv("DT_EVENTSTORE_BIN"); b && *b) return b;
#ifdef DT_EVENTSTORE_BIN
  return DT_EVENTSTORE_BIN;
#else
  return {};
#endif
}

inline std::string ExternalEventStoreUrl() {
  const char* url = std::getenv("DT_TEST_EVENTSTORE_URL");
  return (url && *url) ? std::string(url) : std::string();
}

inline uint16_t FreePort() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

// A dt-eventstore process on a free port with its data in `dir`; SIGTERM on destruction.
class EventStoreProcess {
 public:
  // `port` 0: a free one.
  EventStoreProcess(const std::string& bin, const std::string& dir, uint16_t port = 0) {
    port_ = port ? port : FreePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string log = dir + "/eventstore.log";
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::string p = std::to_string(port_);
      ::setenv("EVENTSTORE_HTTP_PORT", p.c_str(), 1);
      ::setenv("EVENTSTORE_DB", (dir + "/db").c_str(), 1);
      ::setenv("EVENTSTORE_INSECURE", "false", 1);
      ::execl(bin.c_str(), bin.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~EventStoreProcess() {
    ::kill(pid_, SIGTERM);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  EventStoreProcess(const EventStoreProcess&) = delete;
  EventStoreProcess& operator=(const EventStoreProcess&) = delete;
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace dt::client::testing
