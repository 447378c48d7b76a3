#include "store_http/error_mapping.h"

#include <spdlog/spdlog.h>

#include "http/basic_auth.h"

namespace dt::store_http {

using http::ErrorResponse;
using http::HttpStatus;

http::Response ErrorToResponse(const Status& s) {
  switch (s.code()) {
    case Code::kOk:
      return http::MakeResponse(HttpStatus::ok);
    case Code::kWrongExpectedVersion: {
      http::Response r = ErrorResponse(HttpStatus::bad_request, "Wrong expected EventNumber");
      std::string v = std::to_string(s.current_version());
      r.set("ES-CurrentVersion", v);
      r.set("Kurrent-CurrentVersion", v);
      return r;
    }
    case Code::kStreamDeleted:
      return ErrorResponse(HttpStatus::gone, "Stream deleted");
    case Code::kStreamNotFound:
    case Code::kNotFound:
      return ErrorResponse(HttpStatus::not_found, "Not Found");
    case Code::kTooLarge:
      return ErrorResponse(HttpStatus::payload_too_large, s.message().empty() ? "Too large" : s.message());
    case Code::kInvalidArgument:
      return ErrorResponse(HttpStatus::bad_request, s.message().empty() ? "Bad Request" : s.message());
    case Code::kUnauthenticated:
      return http::Unauthorized("ESDB", s.message().empty() ? "Unauthorized" : s.message());
    case Code::kPermissionDenied:
      return ErrorResponse(HttpStatus::unauthorized, "Access denied");
    case Code::kStopped:
    case Code::kUnavailable:
      spdlog::error("request failed: {}", s.ToString());
      return ErrorResponse(HttpStatus::service_unavailable, "Service Unavailable: the store is not taking writes");
    case Code::kTimeout:
      return ErrorResponse(HttpStatus::request_timeout, "Timed out");
    case Code::kConflict:
    case Code::kPreconditionFailed:
      return ErrorResponse(HttpStatus::bad_request, s.message());
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kInternal:
      break;
  }
  spdlog::error("request failed: {}", s.ToString());
  return ErrorResponse(HttpStatus::internal_server_error, "Internal Server Error");
}

}  // namespace dt::store_http
