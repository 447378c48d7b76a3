// The one place where the API turns a dt::Status into an HTTP answer.
//
//   kInvalidArgument -> 400     kUnauthenticated -> 401     kNotFound/kStreamNotFound -> 404
//   kWrongExpectedVersion / kPreconditionFailed -> 412 (+ current_version)
//   kConflict -> 422 (an Idempotency-Key reused for another request)
//   kTooLarge -> 413            kUnavailable / kTimeout / kStopped -> 503 (kTimeout: too
//   much contention on one entity; its message is shown)
//   anything else -> 500 with a generic message (the detail goes to the log only).
// Every body is {"error": "..."}.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "http/exchange.h"

namespace dt::api {

http::Response ErrorFromStatus(const Status& status, std::string_view request_id);
http::Response JsonError(http::HttpStatus code, std::string_view message);
http::Response JsonOk(http::HttpStatus code, const nlohmann::json& body);

}  // namespace dt::api
