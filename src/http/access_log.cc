#include "http/access_log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>

namespace dt::http {

namespace {
constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%fZ level=%l %v";
}  // namespace

std::string RedactTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (true) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    if (!first) out += '&';
    first = false;
    if (eq != std::string_view::npos &&
        (key == "token" || key == "access_token" || key == "password")) {
      out.append(key);
      out += "=***";
    } else {
      out.append(part);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

void LogAccess(const AccessRecord& r) {
  double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  spdlog::info("msg=request request_id={} method={} path={} status={} duration_ms={:.3f} remote={}",
               r.request_id, r.method, RedactTarget(r.path), r.status, ms, r.remote);
}

bool AccessLogOn() { return spdlog::default_logger_raw()->should_log(spdlog::level::info); }

std::string AddLogFile(const std::string& path) {
  try {
    std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(path, 64u << 20, 4);
    auto console = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>(
        "", spdlog::sinks_init_list{console, file});
    logger->set_level(spdlog::default_logger()->level());
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        kPattern, spdlog::pattern_time_type::utc));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
    spdlog::flush_every(std::chrono::seconds(1));
    return "";
  } catch (const std::exception& e) {
    return "cannot write the log file " + path + ": " + e.what();
  }
}

bool SetupLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  spdlog::set_level(lvl);
  spdlog::set_formatter(std::make_unique<spdlog::pattern_formatter>(
      kPattern, spdlog::pattern_time_type::utc));
  return true;
}

}  // namespace dt::http
