#include "store/metadata.h"

#include <nlohmann/json.hpp>

namespace dt::store {
namespace {

std::optional<int64_t> NonNegativeInt(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
  }
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    if (v >= 0) return v;
  }
  return std::nullopt;
}

}  // namespace

StreamMetadata ParseStreamMetadata(std::string_view json) {
  StreamMetadata m;
  m.json = std::string(json);
  if (json.empty()) return m;
  nlohmann::json obj = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!obj.is_object()) return m;
  m.max_count = NonNegativeInt(obj, "$maxCount");
  m.max_age_seconds = NonNegativeInt(obj, "$maxAge");
  m.truncate_before = NonNegativeInt(obj, "$tb");
  return m;
}

std::string WithTruncateBefore(std::string_view json, int64_t truncate_before) {
  nlohmann::json obj = json.empty() ? nlohmann::json::object()
                                    : nlohmann::json::parse(json, nullptr, false);
  if (!obj.is_object()) obj = nlohmann::json::object();
  obj["$tb"] = truncate_before;
  return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dt::store
