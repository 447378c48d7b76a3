// dt-server as a real process: settings validation, --help/--version, the admin commands,
// and an idempotent retry after the server was killed with SIGKILL and restarted.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "api/api_test_env.h"

#ifndef DT_SERVER_BIN
#error "DT_SERVER_BIN must name the dt-server executable"
#endif

namespace dt::api {
namespace {

using testing::Client;
using testing::json;

struct Proc {
  pid_t pid = -1;
  std::string log;
};

// Runs dt-server with `args` and extra environment; output goes to `log`.
Proc Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
           const std::string& log, const std::string& stdin_text = "") {
  int in_pipe[2];
  EXPECT_EQ(::pipe(in_pipe), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::close(in_pipe[1]);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(DT_SERVER_BIN)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(DT_SERVER_BIN, argv.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  if (!stdin_text.empty()) {
    EXPECT_EQ(::write(in_pipe[1], stdin_text.data(), stdin_text.size()),
              static_cast<ssize_t>(stdin_text.size()));
  }
  ::close(in_pipe[1]);
  return {pid, log};
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Wait(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Waits for the "msg=listening ... port=N" line; 0 on timeout or early exit.
uint16_t WaitForPort(const Proc& p) {
  std::regex re("msg=listening .*port=([0-9]+)");
  for (int i = 0; i < 300; ++i) {
    std::smatch m;
    std::string text = Slurp(p.log);
    if (std::regex_search(text, m, re)) return static_cast<uint16_t>(std::stoi(m[1]));
    int status;
    if (::waitpid(p.pid, &status, WNOHANG) == p.pid) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

class ServerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = readmodel::testing::TempDir("srv");
    env_ = {"PORT=0",
            "DEBT_TRACKER_BIND=127.0.0.1",
            "EVENTSTORE_URL=file:" + dir_ + "/eventstore",
            "DATABASE_URL=sqlite:" + dir_ + "/projections.db",
            "DEBT_TRACKER_DATA_DIR=" + dir_,
            "DEBT_TRACKER_BOOTSTRAP_USER=alice:pw-alice"};
  }
  void TearDown() override {
    for (pid_t pid : running_) {
      ::kill(pid, SIGKILL);
      Wait(pid);
    }
    std::filesystem::remove_all(dir_);
  }
  Proc Start() {
    Proc p = Spawn({}, env_, dir_ + "/server-" + std::to_string(starts_++) + ".log");
    running_.push_back(p.pid);
    return p;
  }
  void Forget(pid_t pid) { running_.erase(std::remove(running_.begin(), running_.end(), pid), running_.end()); }
  int RunTool(const std::vector<std::string>& args, std::string* out,
              const std::vector<std::string>& extra_env = {}, const std::string& stdin_text = "") {
    auto env = env_;
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    Proc p = Spawn(args, env, dir_ + "/tool.log", stdin_text);
    int rc = Wait(p.pid);
    *out = Slurp(p.log);
    return rc;
  }
  std::string dir_;
  std::vector<std::string> env_;
  std::vector<pid_t> running_;
  int starts_ = 0;
};

TEST_F(ServerProcessTest, HelpVersionAndBadSettings) {
  std::string out;
  EXPECT_EQ(RunTool({"--help"}, &out), 0);
  EXPECT_NE(out.find("EVENTSTORE_URL"), std::string::npos);
  EXPECT_NE(out.find("DATABASE_URL"), std::string::npos);
  EXPECT_EQ(RunTool({"--version"}, &out), 0);
  EXPECT_NE(out.find("dt-server"), std::string::npos);
  EXPECT_EQ(RunTool({}, &out, {"PORT=eighty"}), 1);
  EXPECT_NE(out.find("PORT='eighty' is invalid"), std::string::npos) << out;
  EXPECT_EQ(RunTool({}, &out, {"EVENTSTORE_URL=ftp://x"}), 1);
  EXPECT_NE(out.find("EVENTSTORE_URL"), std::string::npos) << out;
  EXPECT_EQ(RunTool({}, &out, {"DATABASE_URL=mysql://x"}), 1);
  EXPECT_NE(out.find("DATABASE_URL"), std::string::npos) << out;
  EXPECT_EQ(RunTool({}, &out, {"JWT_EXPIRATION=-5"}), 1);
  EXPECT_NE(out.find("JWT_EXPIRATION"), std::string::npos) << out;
}

TEST_F(ServerProcessTest, AdminCommandsManageUsersAndProjections) {
  std::string out;
  EXPECT_EQ(RunTool({"user", "add", "carol"}, &out, {}, "pw-carol\n"), 0) << out;
  EXPECT_NE(out.find("created user carol"), std::string::npos);
  EXPECT_EQ(RunTool({"user", "add", "carol", "--password", "x"}, &out), 1);
  EXPECT_NE(out.find("already exists"), std::string::npos);
  EXPECT_EQ(RunTool({"user", "passwd", "carol", "--password", "pw-carol-2"}, &out), 0) << out;
  EXPECT_EQ(RunTool({"user", "passwd", "nobody", "--password", "x"}, &out), 1);

  Proc p = Start();
  uint16_t port = WaitForPort(p);
  ASSERT_NE(port, 0) << Slurp(p.log);
  Client c(port);
  auto old_pw = c.Post("/api/auth/login", {{"username", "carol"}, {"password", "pw-carol"}});
  EXPECT_EQ(old_pw.status, 401u);
  auto login = c.Post("/api/auth/login", {{"username", "carol"}, {"password", "pw-carol-2"}});
  ASSERT_EQ(login.status, 200u);
  c.set_token(login.body["token"]);
  ASSERT_EQ(c.Post("/api/contacts", {{"name", "Rebuilt"}}).status, 201u);
  ::kill(p.pid, SIGTERM);
  EXPECT_EQ(Wait(p.pid), 0);
  Forget(p.pid);
  EXPECT_NE(Slurp(p.log).find("msg=stopped"), std::string::npos);

  EXPECT_EQ(RunTool({"rebuild-projections"}, &out), 0) << out;
  EXPECT_NE(out.find("events/s"), std::string::npos);
  EXPECT_NE(out.find("rebuilt the read model"), std::string::npos);
  EXPECT_EQ(RunTool({"projection-status"}, &out), 0) << out;
  EXPECT_NE(out.find("events applied:  1"), std::string::npos) << out;
}

TEST_F(ServerProcessTest, IdempotentRetryAfterKillNineAndRestart) {
  Proc p = Start();
  uint16_t port = WaitForPort(p);
  ASSERT_NE(port, 0) << Slurp(p.log);
  std::string token, contact, first_raw;
  {
    Client c(port);
    auto login = c.Post("/api/auth/login", {{"username", "alice"}, {"password", "pw-alice"}});
    ASSERT_EQ(login.status, 200u);
    token = login.body["token"];
    c.set_token(token);
    auto created = c.Post("/api/contacts", {{"name", "Kill"}});
    ASSERT_EQ(created.status, 201u);
    contact = created.body["id"];
    auto tx = c.Post("/api/transactions",
                     {{"contact_id", contact}, {"type", "money"}, {"direction", "lent"},
                      {"amount", 5000}, {"transaction_date", "2024-06-01"}},
                     {{"Idempotency-Key", "phone-retry-1"}});
    ASSERT_EQ(tx.status, 201u);
    first_raw = tx.raw;
  }
  ::kill(p.pid, SIGKILL);
  Wait(p.pid);
  Forget(p.pid);

  Proc again = Start();
  port = WaitForPort(again);
  ASSERT_NE(port, 0) << Slurp(again.log);
  Client c(port);
  c.set_token(token);  // the secret was kept under the data folder: tokens survive
  auto retry = c.Post("/api/transactions",
                      {{"contact_id", contact}, {"type", "money"}, {"direction", "lent"},
                       {"amount", 5000}, {"transaction_date", "2024-06-01"}},
                      {{"Idempotency-Key", "phone-retry-1"}});
  EXPECT_EQ(retry.status, 201u);
  EXPECT_EQ(retry.raw, first_raw);
  auto list = c.Get("/api/transactions");
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.body.size(), 1u);
  EXPECT_EQ(c.Get("/api/contacts/" + contact).body["balance"], 5000);
}

}  // namespace
}  // namespace dt::api
