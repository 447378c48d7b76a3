#include "http/access_log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace dt::http {

void LogAccess(const AccessRecord& r) {
  double ms = std::chrono::duration<double, std::milli>(r.duration).count();
  spdlog::info("msg=request request_id={} method={} path={} status={} duration_ms={:.3f} remote={}",
               r.request_id, r.method, r.path, r.status, ms, r.remote);
}

bool SetupLogging(std::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") return false;
  spdlog::set_level(lvl);
  spdlog::set_formatter(std::make_unique<spdlog::pattern_formatter>(
      "%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc));
  return true;
}

}  // namespace dt::http
