#include "store_http/config.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

namespace dt::store_http {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::optional<bool> ParseBool(const std::string& v) {
  std::string l = Lower(v);
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return std::nullopt;
}

std::optional<uint64_t> ParseUnsigned(const std::string& v) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
  return out;
}

// EventStoreDB's level names and spdlog's.
std::optional<std::string> ParseLevel(const std::string& v) {
  static const std::map<std::string, std::string> kLevels = {
      {"verbose", "trace"}, {"trace", "trace"},     {"debug", "debug"},
      {"information", "info"}, {"info", "info"},    {"warning", "warn"},
      {"warn", "warn"},     {"error", "err"},       {"err", "err"},
      {"fatal", "critical"}, {"critical", "critical"}, {"off", "off"}};
  auto it = kLevels.find(Lower(v));
  if (it == kLevels.end()) return std::nullopt;
  return it->second;
}

struct Setting {
  std::string flag;  // without dashes
  std::string env;
  std::string help;
  std::string value;  // as text; the default until set
  bool is_flag = false;  // a boolean that may be given without a value
};

}  // namespace

std::string VersionString() { return "dt-eventstore 0.1.0 (EventStoreDB HTTP API compatible)"; }

Result<Parsed> ParseConfig(int argc, const char* const* argv, const std::vector<std::string>& env) {
  Config d;
  std::vector<Setting> settings = {
      {"db", "EVENTSTORE_DB", "Data folder (log, index, lock file)", d.db},
      {"node-ip", "EVENTSTORE_NODE_IP", "Address to listen on (0.0.0.0 for every interface)", d.node_ip},
      {"http-port", "EVENTSTORE_HTTP_PORT", "HTTP port (0: any free port, printed in the 'ready' line)", std::to_string(d.http_port)},
      {"insecure", "EVENTSTORE_INSECURE", "Turn authentication off (true/false)", "false", true},
      {"default-admin-password", "EVENTSTORE_DEFAULT_ADMIN_PASSWORD", "Password of the admin account", d.admin_password},
      {"enable-atom-pub-over-http", "EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP", "Accepted for compatibility; the HTTP API is always on", "true", true},
      {"run-projections", "EVENTSTORE_RUN_PROJECTIONS", "Accepted for compatibility (None, System, All); no projections run", d.run_projections},
      {"log", "EVENTSTORE_LOG", "Folder for the log file dt-eventstore.log, besides the console (empty: console only)", d.log_dir},
      {"log-level", "EVENTSTORE_LOG_LEVEL", "Verbose, Debug, Information, Warning, Error, Fatal", "Information"},
      {"log-http-requests", "EVENTSTORE_LOG_HTTP_REQUESTS", "One log line per HTTP request (true/false)", "false", true},
      {"max-append-size", "EVENTSTORE_MAX_APPEND_SIZE", "Largest request body in bytes (413 beyond)", std::to_string(d.max_append_size)},
      {"max-connections", "EVENTSTORE_MAX_CONNECTIONS", "Most open HTTP connections (503 beyond)", std::to_string(d.max_connections)},
      {"http-threads", "EVENTSTORE_HTTP_THREADS", "Threads serving sockets", std::to_string(d.io_threads)},
      {"worker-threads", "EVENTSTORE_WORKER_THREADS", "Threads for reads that touch the disk", std::to_string(d.worker_threads)},
      {"segment-size", "EVENTSTORE_SEGMENT_SIZE", "Bytes per log segment file (new data folders only)", std::to_string(d.segment_size)},
  };
  // Environment first; flags override.
  std::map<std::string, std::string> envmap;
  for (const auto& e : env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) envmap[e.substr(0, eq)] = e.substr(eq + 1);
  }
  std::map<std::string, std::string> origin;  // setting -> where its value came from
  for (auto& s : settings) {
    auto it = envmap.find(s.env);
    if (it != envmap.end()) {
      s.value = it->second;
      origin[s.flag] = s.env;
    }
  }

  CLI::App app{"dt-eventstore: an event store speaking the EventStoreDB HTTP API.\n"
               "Each setting is a flag or an environment variable (the flag wins)."};
  app.set_version_flag("--version", VersionString());
  std::map<std::string, std::string> flag_values;
  for (auto& s : settings) {
    auto* opt = app.add_option("--" + s.flag, flag_values[s.flag],
                               fmt::format("{} [env {}] (default: {})", s.help, s.env, s.value));
    if (s.is_flag) opt->expected(0, 1)->default_str("true");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Parsed{ParseOutcome::kExit, 0, app.help(), {}};
  } catch (const CLI::CallForVersion&) {
    return Parsed{ParseOutcome::kExit, 0, VersionString() + "\n", {}};
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(fmt::format("{} (see --help)", e.what()));
  }
  for (auto& s : settings) {
    auto* opt = app.get_option("--" + s.flag);
    if (opt->count() > 0) {
      s.value = flag_values[s.flag].empty() && s.is_flag ? "true" : flag_values[s.flag];
      origin[s.flag] = "--" + s.flag;
    } else if (!origin.count(s.flag)) {
      origin[s.flag] = "default";
    }
  }

  Parsed out;
  Config& c = out.config;
  auto bad = [&](const Setting& s, std::string_view what) {
    // Name the setting the way it was given: the flag, or the environment variable.
    return Status::InvalidArgument(fmt::format("bad setting {}: '{}' is not {}", origin[s.flag], s.value, what));
  };
  for (const auto& s : settings) {
    const std::string& f = s.flag;
    if (f == "db") {
      if (s.value.empty()) return bad(s, "a folder");
      c.db = s.value;
    } else if (f == "node-ip") {
      if (s.value.empty()) return bad(s, "an IP address");
      c.node_ip = s.value;
    } else if (f == "http-port") {
      auto v = ParseUnsigned(s.value);
      if (!v || *v > 65535) return bad(s, "a port number (0-65535; 0 picks a free one)");
      c.http_port = static_cast<uint16_t>(*v);
    } else if (f == "insecure" || f == "enable-atom-pub-over-http" || f == "log-http-requests") {
      auto v = ParseBool(s.value);
      if (!v) return bad(s, "true or false");
      (f == "insecure" ? c.insecure : f == "log-http-requests" ? c.log_http_requests : c.atom_pub) = *v;
    } else if (f == "default-admin-password") {
      if (s.value.empty()) return bad(s, "a password (it is empty)");
      c.admin_password = s.value;
    } else if (f == "run-projections") {
      std::string l = Lower(s.value);
      if (l != "none" && l != "system" && l != "all") return bad(s, "one of None, System, All");
      c.run_projections = s.value;
    } else if (f == "log") {
      c.log_dir = s.value;
    } else if (f == "log-level") {
      auto v = ParseLevel(s.value);
      if (!v) return bad(s, "a log level (Verbose, Debug, Information, Warning, Error, Fatal)");
      c.log_level = *v;
    } else {
      auto v = ParseUnsigned(s.value);
      if (!v || *v == 0) return bad(s, "a positive whole number");
      if (f == "max-append-size") c.max_append_size = *v;
      if (f == "max-connections") c.max_connections = *v;
      if (f == "http-threads") c.io_threads = *v;
      if (f == "worker-threads") c.worker_threads = *v;
      if (f == "segment-size") {
        if (*v < (1u << 20)) return bad(s, "at least 1048576 bytes");
        c.segment_size = *v;
      }
    }
  }
  return out;
}

}  // namespace dt::store_http
