// metadata.h: stream metadata ($maxCount, $maxAge, $tb) parsing and editing.
//
// Metadata of stream S is the data of the latest event of stream "$$S". Reserved keys that
// are missing or not non-negative integers are ignored (as EventStoreDB does); metadata
// that is not a JSON object counts as empty.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/store.h"

namespace dt::store {

StreamMetadata ParseStreamMetadata(std::string_view json);

// `json` (an object, or anything else = {}) with "$tb" set to truncate_before.
std::string WithTruncateBefore(std::string_view json, int64_t truncate_before);

// "$$name" for a stream, the stream for "$$name" (empty when `name` is not a metastream).
inline bool IsMetastream(std::string_view name) { return name.size() > 2 && name.substr(0, 2) == "$$"; }
inline std::string MetastreamOf(std::string_view name) {
  std::string s;
  s.reserve(name.size() + 2);
  s.append("$$").append(name);
  return s;
}
// 'name' in quotes, for messages.
inline std::string Quote(std::string_view name) {
  std::string s;
  s.reserve(name.size() + 2);
  s.append(1, '\'').append(name).append(1, '\'');
  return s;
}
inline std::string_view OriginalOf(std::string_view metastream) { return metastream.substr(2); }

}  // namespace dt::store
