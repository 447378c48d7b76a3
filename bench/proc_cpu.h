// CPU time of other processes, from /proc, for the benchmarks that report the CPU a request
// costs the servers they drive (dt-eventstore, PostgreSQL).
#pragma once

#include <libpq-fe.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace dt::bench {

// The text of /proc/<pid>/stat after the command name (which may hold spaces and ')'), from
// the state field on; empty when the process is gone.
inline std::string StatFields(const std::string& pid) {
  std::ifstream st("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(st)), std::istreambuf_iterator<char>());
  auto p = text.rfind(')');
  return p == std::string::npos || p + 2 > text.size() ? std::string() : text.substr(p + 2);
}

// User + system CPU seconds of a process (0 when there is none), and with `reaped` also of
// the children it has waited for (fields 14-15 and 16-17 of /proc/<pid>/stat).
inline double ProcessCpuSeconds(pid_t pid, bool reaped = false) {
  if (pid <= 0) return 0;
  std::string fields = StatFields(std::to_string(pid));
  unsigned long long t[4] = {0, 0, 0, 0};
  if (std::sscanf(fields.c_str(), "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                  &t[0], &t[1], &t[2], &t[3]) != 4) {
    return 0;
  }
  unsigned long long ticks = t[0] + t[1] + (reaped ? t[2] + t[3] : 0);
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The parent of process `pid`, or 0.
inline pid_t ParentPid(const std::string& pid) {
  int ppid = 0;
  std::string fields = StatFields(pid);
  return std::sscanf(fields.c_str(), "%*c %d", &ppid) == 1 ? static_cast<pid_t>(ppid) : 0;
}

// The PostgreSQL server behind `url`: its postmaster's pid (the parent of a backend), or 0.
inline pid_t PostmasterPid(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  pid_t pid = 0;
  if (PQstatus(c) == CONNECTION_OK) pid = ParentPid(std::to_string(PQbackendPID(c)));
  PQfinish(c);
  return pid;
}

// User + system CPU seconds of the postmaster `pid` and of its children, live ones and those
// that have exited (autovacuum workers, sessions closed meanwhile: the postmaster waits for
// them, and their CPU time moves into its children's): a sum that only ever grows.
inline double PostgresCpuSeconds(pid_t pid) {
  if (pid <= 0) return 0;
  double sum = ProcessCpuSeconds(pid, /*reaped=*/true);
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    if (ParentPid(name) == pid) sum += ProcessCpuSeconds(static_cast<pid_t>(std::stoi(name)));
  }
  return sum;
}

}  // namespace dt::bench
