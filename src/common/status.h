// Status and Result<T>: how every layer below the HTTP handlers reports failure.
//
// The engine and the libraries above it never throw. A function that can fail
// returns a [[nodiscard]] Status (no value) or Result<T> (a value or a Status).
// Each failure has a named Code; the HTTP layers map codes to status codes in
// exactly one place each (store_http/error_mapping, api/error_mapping).
//
// Thread-safety: values; copy freely. Nothing to outlive.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dt {

enum class Code : uint8_t {
  kOk = 0,
  kWrongExpectedVersion,  // current_version() carries the stream's current version
  kStreamDeleted,         // the stream is tombstoned (hard-deleted)
  kStreamNotFound,        // the stream does not exist or is soft-deleted
  kNotFound,              // a single item (event, row, key) does not exist
  kTooLarge,              // an event or a batch is over the limit
  kInvalidArgument,       // the caller's input is malformed
  kCorruption,            // stored bytes fail their checksum or structure
  kIOError,               // the operating system refused an I/O operation
  kStopped,               // the component stopped taking work (closed or failed)
  kTimeout,               // a bounded wait ran out
  kConflict,              // a concurrent change won (other than expected version)
  kUnavailable,           // a dependency (remote store, database) cannot be reached
  kPermissionDenied,      // authenticated but not allowed
  kUnauthenticated,       // no or bad credentials
  kPreconditionFailed,    // an If-Match style precondition did not hold
  kInternal,              // a bug: an invariant did not hold
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status WrongExpectedVersion(int64_t current_version, std::string message = {}) {
    Status s(Code::kWrongExpectedVersion, std::move(message));
    s.current_version_ = current_version;
    return s;
  }
  static Status StreamDeleted(std::string message = {}) {
    return {Code::kStreamDeleted, std::move(message)};
  }
  static Status StreamNotFound(std::string message = {}) {
    return {Code::kStreamNotFound, std::move(message)};
  }
  static Status NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
  static Status TooLarge(std::string message) { return {Code::kTooLarge, std::move(message)}; }
  static Status InvalidArgument(std::string message) {
    return {Code::kInvalidArgument, std::move(message)};
  }
  static Status Corruption(std::string message) {
    return {Code::kCorruption, std::move(message)};
  }
  static Status IOError(std::string message) { return {Code::kIOError, std::move(message)}; }
  static Status Stopped(std::string message) { return {Code::kStopped, std::move(message)}; }
  static Status Timeout(std::string message) { return {Code::kTimeout, std::move(message)}; }
  static Status Conflict(std::string message) { return {Code::kConflict, std::move(message)}; }
  static Status Unavailable(std::string message) {
    return {Code::kUnavailable, std::move(message)};
  }
  static Status Internal(std::string message) { return {Code::kInternal, std::move(message)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // Only meaningful for kWrongExpectedVersion: -1 when the stream does not exist.
  int64_t current_version() const { return current_version_; }
  bool Is(Code code) const { return code_ == code; }

  // "WrongExpectedVersion: <message>", or "OK".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  int64_t current_version_ = -1;
};

// A value or a failure. Constructing from an OK Status is a bug (checked in debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}    // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dt

// Early-return helpers. DT_RETURN_IF_ERROR works on a Status expression;
// DT_ASSIGN_OR_RETURN(lhs, expr) works on a Result expression.
#define DT_RETURN_IF_ERROR(expr)        \
  do {                                  \
    ::dt::Status dt_status_ = (expr);   \
    if (!dt_status_.ok()) return dt_status_; \
  } while (0)

#define DT_CONCAT_INNER(a, b) a##b
#define DT_CONCAT(a, b) DT_CONCAT_INNER(a, b)
#define DT_ASSIGN_OR_RETURN(lhs, expr)                                \
  auto DT_CONCAT(dt_result_, __LINE__) = (expr);                      \
  if (!DT_CONCAT(dt_result_, __LINE__).ok())                          \
    return DT_CONCAT(dt_result_, __LINE__).status();                  \
  lhs = std::move(DT_CONCAT(dt_result_, __LINE__)).value()
