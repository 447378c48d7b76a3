// The one place where dt-eventstore turns a failure (dt::Status) into an HTTP response,
// with the status codes and reason phrases of EventStoreDB's HTTP API.
//
// Thread-safety: pure function.
#pragma once

#include "common/status.h"
#include "http/exchange.h"

namespace dt::store_http {

// kWrongExpectedVersion → 400 "Wrong expected EventNumber" + ES-/Kurrent-CurrentVersion;
// kStreamDeleted → 410 "Stream deleted"; kStreamNotFound, kNotFound → 404 "Not Found";
// kTooLarge → 413; kInvalidArgument → 400 with the message; kUnauthenticated → 401;
// kPermissionDenied → 401 "Access denied"; kStopped, kUnavailable → 503; kTimeout → 408;
// anything else → 500 (the message is logged, not sent).
http::Response ErrorToResponse(const Status& status);

}  // namespace dt::store_http
