// dt-server: the Debt Tracker API (port 8000) and its admin commands.
//   dt-server [serve]                       run the API
//   dt-server user add <name> [--password]  create an account (password from stdin if absent)
//   dt-server user passwd <name> [--password]
//   dt-server rebuild-projections           rebuild the read model from all events
//   dt-server projection-status             where the read model stands
// Settings come from the environment (dt-server --help lists them).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <spdlog/spdlog.h>

#include "api/app.h"
#include "api/config.h"
#include "client/client_factory.h"
#include "http/access_log.h"
#include "http/signals.h"
#include "readmodel/projector.h"
#include "tracker/user_service.h"

#ifndef DT_VERSION
#define DT_VERSION "0.0.0"
#endif

namespace {

using dt::api::Config;

int Fail(const std::string& line) {
  std::fprintf(stderr, "dt-server: %s\n", line.c_str());
  return 1;
}

dt::Result<Config> LoadConfig() {
  return Config::Load([](const char* name) { return std::getenv(name); });
}

std::string ReadPassword(const std::string& given) {
  if (!given.empty()) return given;
  if (isatty(STDIN_FILENO)) std::fprintf(stderr, "Password: ");
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

int Serve() {
  dt::http::BlockTerminationSignals();
  auto config = LoadConfig();
  if (!config.ok()) return Fail(config.status().message());
  dt::http::SetupLogging(config->log_level);
  std::string log_file = dt::api::LogFilePath(*config);
  if (!log_file.empty()) {
    std::string problem = dt::http::AddLogFile(log_file);
    if (!problem.empty()) return Fail("DEBT_TRACKER_LOG_FILE: " + problem);
  }
  spdlog::info("msg=starting version={} pid={} log_file={} event_store={} read_model={}",
               DT_VERSION, getpid(), log_file.empty() ? "none" : log_file, config->eventstore_url,
               config->database_url.rfind("sqlite:", 0) == 0 ? config->database_url
                                                              : std::string("postgresql"));
  auto app = dt::api::App::Create(*config);
  if (!app.ok()) return Fail(app.status().message());
  dt::Status s = (*app)->Start();
  if (!s.ok()) return Fail(s.message());
  spdlog::info("msg=listening address={} port={} event_store=\"{}\" read_model=\"{}\"",
               config->bind, (*app)->port(), (*app)->events().Describe(),
               (*app)->store().Describe());
  int sig = dt::http::WaitForTerminationSignal();
  spdlog::info("msg=stopping signal={}", sig);
  (*app)->Stop();
  spdlog::info("msg=stopped");
  return 0;
}

struct Stores {
  std::unique_ptr<dt::client::EventStoreClient> events;
  std::unique_ptr<dt::readmodel::ReadModelStore> store;
};

dt::Result<std::unique_ptr<dt::client::EventStoreClient>> OpenEvents(const Config& c) {
  return dt::client::OpenEventStoreClient(
      {c.eventstore_url, c.eventstore_username, c.eventstore_password});
}

int UserCommand(bool add, const std::string& name, const std::string& password_flag) {
  auto config = LoadConfig();
  if (!config.ok()) return Fail(config.status().message());
  auto events = OpenEvents(*config);
  if (!events.ok()) return Fail(events.status().message());
  dt::tracker::UserService users(**events);
  std::string password = ReadPassword(password_flag);
  auto r = add ? users.CreateUser(name, password) : users.ChangePassword(name, password);
  if (!r.ok()) return Fail(r.status().message());
  std::printf("%s user %s (id %s)\n", add ? "created" : "changed the password of",
              r->username.c_str(), r->user_id.c_str());
  return 0;
}

std::string Duration(double seconds) {
  if (seconds < 0) return "?";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

int Rebuild() {
  auto config = LoadConfig();
  if (!config.ok()) return Fail(config.status().message());
  auto events = OpenEvents(*config);
  if (!events.ok()) return Fail(events.status().message());
  auto store = dt::readmodel::OpenReadModelStore(config->database_url);
  if (!store.ok()) return Fail(store.status().message());
  dt::readmodel::Projector projector(**events, **store);
  bool tty = isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  dt::Status s = projector.Rebuild([&](const dt::readmodel::RebuildProgress& p) {
    const int width = 30;
    int filled = static_cast<int>(p.fraction * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] %5.1f%%  %lld events  %.0f events/s  ETA %s%s",
                 tty ? "\r" : "", bar.c_str(), p.fraction * 100,
                 static_cast<long long>(p.events), p.events_per_second,
                 p.done ? "0s" : Duration(p.eta_seconds).c_str(), tty ? "   " : "\n");
  });
  if (tty) std::fprintf(stderr, "\n");
  if (!s.ok()) {
    if (s.Is(dt::Code::kConflict)) {
      return Fail(s.message() + " (a running dt-server holds the projector: use "
                                "POST /api/admin/projections/rebuild, or stop it first)");
    }
    return Fail("rebuild failed: " + s.ToString());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto st = projector.GetStatus();
  std::printf("rebuilt the read model (%s): %lld events in %.1fs\n", (*store)->Describe().c_str(),
              static_cast<long long>(st.events_applied), secs);
  if (st.rebuild.events_skipped > 0 || st.rebuild.events_repaired > 0) {
    std::printf("unreadable events skipped: %lld, events with repaired text: %lld (the log names "
                "them)\n",
                static_cast<long long>(st.rebuild.events_skipped),
                static_cast<long long>(st.rebuild.events_repaired));
  }
  return 0;
}

int Status() {
  auto config = LoadConfig();
  if (!config.ok()) return Fail(config.status().message());
  auto store = dt::readmodel::OpenReadModelStore(config->database_url);
  if (!store.ok()) return Fail(store.status().message());
  auto st = (*store)->LoadState(dt::readmodel::Target::kLive);
  if (!st.ok()) return Fail(st.status().message());
  std::printf("read model:      %s\n", (*store)->Describe().c_str());
  std::printf("checkpoint:      %s\n", st->position.empty() ? "(start)" : st->position.c_str());
  std::printf("events applied:  %lld\n", static_cast<long long>(st->events_applied));
  std::printf("generation:      %lld\n", static_cast<long long>(st->generation));
  std::printf("updated at:      %s\n", st->updated_at.empty() ? "never" : st->updated_at.c_str());
  std::printf("rebuild running: %s\n", (*store)->RebuildInProgress() ? "yes" : "no");
  auto events = OpenEvents(*config);
  if (events.ok()) {
    auto head = (*events)->ReadHead();
    if (head.ok()) {
      std::printf("event store:     %s (head %s)\n", (*events)->Describe().c_str(),
                  head->ToString().c_str());
    } else {
      std::printf("event store:     %s (unreachable: %s)\n", (*events)->Describe().c_str(),
                  head.status().message().c_str());
    }
  } else {
    std::printf("event store:     unavailable (%s)\n", events.status().message().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"dt-server: the Debt Tracker API (HTTP on PORT, default 8000).\n\n" +
               dt::api::ConfigHelp()};
  cli.set_version_flag("--version", std::string("dt-server ") + DT_VERSION);
  cli.require_subcommand(0, 1);
  auto* serve = cli.add_subcommand("serve", "run the API (the default)");
  auto* user = cli.add_subcommand("user", "manage accounts");
  user->require_subcommand(1);
  std::string name, password;
  auto* add = user->add_subcommand("add", "create an account (password from stdin or --password)");
  add->add_option("name", name, "login name")->required();
  add->add_option("--password", password, "the password (else read from stdin)");
  auto* passwd = user->add_subcommand("passwd", "change an account's password");
  passwd->add_option("name", name, "login name")->required();
  passwd->add_option("--password", password, "the new password (else read from stdin)");
  auto* rebuild = cli.add_subcommand("rebuild-projections",
                                     "rebuild the read model from all events (progress on stderr)");
  auto* status = cli.add_subcommand("projection-status", "show where the read model stands");
  CLI11_PARSE(cli, argc, argv);

  if (add->parsed()) return UserCommand(true, name, password);
  if (passwd->parsed()) return UserCommand(false, name, password);
  if (rebuild->parsed()) return Rebuild();
  if (status->parsed()) return Status();
  (void)serve;
  return Serve();
}
