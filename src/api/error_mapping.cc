#include "api/error_mapping.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace dt::api {

using json = nlohmann::json;
using S = http::HttpStatus;

http::Response JsonOk(http::HttpStatus code, const json& body) {
  return http::JsonResponse(code, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

http::Response JsonError(http::HttpStatus code, std::string_view message) {
  return JsonOk(code, json{{"error", std::string(message)}});
}

http::Response ErrorFromStatus(const Status& status, std::string_view request_id) {
  switch (status.code()) {
    case Code::kInvalidArgument:
      return JsonError(S::bad_request, status.message());
    case Code::kUnauthenticated:
      return JsonError(S::unauthorized, status.message());
    case Code::kNotFound:
    case Code::kStreamNotFound:
      return JsonError(S::not_found, status.message().empty() ? "Not found" : status.message());
    case Code::kWrongExpectedVersion:
    case Code::kPreconditionFailed: {
      json body = {{"error", "Version mismatch: the entity was changed since you read it "
                             "(If-Match does not match the current version)"},
                   {"current_version", status.current_version()}};
      return JsonOk(S::precondition_failed, body);
    }
    case Code::kConflict:
      return JsonError(S::unprocessable_entity, status.message());
    case Code::kTooLarge:
      return JsonError(S::payload_too_large, status.message());
    case Code::kTimeout:  // bounded retries against concurrent writers ran out
      return JsonError(S::service_unavailable, status.message());
    case Code::kUnavailable:
    case Code::kStopped:
      spdlog::warn("msg=unavailable request_id={} status=\"{}\"", request_id, status.ToString());
      return JsonError(S::service_unavailable,
                       "The event store or the database is unavailable; retry later");
    default:
      spdlog::error("msg=internal_error request_id={} status=\"{}\"", request_id,
                    status.ToString());
      return JsonError(S::internal_server_error, "Internal error");
  }
}

}  // namespace dt::api
