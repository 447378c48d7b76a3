#include "common/status.h"

namespace dt {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kWrongExpectedVersion: return "WrongExpectedVersion";
    case Code::kStreamDeleted: return "StreamDeleted";
    case Code::kStreamNotFound: return "StreamNotFound";
    case Code::kNotFound: return "NotFound";
    case Code::kTooLarge: return "TooLarge";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "IOError";
    case Code::kStopped: return "Stopped";
    case Code::kTimeout: return "Timeout";
    case Code::kConflict: return "Conflict";
    case Code::kUnavailable: return "Unavailable";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kUnauthenticated: return "Unauthenticated";
    case Code::kPreconditionFailed: return "PreconditionFailed";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace dt
