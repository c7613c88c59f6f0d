// Status and Result: errors are values, returned, never thrown across layers.
//
// A Status carries a Code, a human message and an optional detail (JSON text).
// Codes that a registry puts on the wire are listed once, with their wire name
// and HTTP status, in the table in status.cc (distribution-spec v1.1,
// "Error Codes"); other codes are internal and render as UNKNOWN/500.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hoist {

enum class Code {
  kOk = 0,
  // distribution-spec error codes (wire names in status.cc)
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kSizeInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
  // registry extensions with their own HTTP status
  kRangeInvalid,       // 416
  kManifestTooLarge,   // 413
  kPaginationInvalid,  // 400
  kUnavailable,        // 503: the storage (or another backend) cannot be reached
  // internal codes
  kNotFound,         // a storage path does not exist
  kInvalidArgument,  // bad input that is not a protocol error
  kConflict,         // the request conflicts with the current state (Engine API 409)
  kIo,               // an operating-system call failed
  kInternal,
};

// The wire form of a code: distribution-spec name and HTTP status.
struct CodeInfo {
  Code code;
  std::string_view name;     // e.g. "BLOB_UNKNOWN"
  int http_status;           // e.g. 404
  std::string_view message;  // default message, as in the spec's table
};

// Returns the table row for `code`; internal codes map to UNKNOWN/500.
const CodeInfo& InfoFor(Code code);

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string detail_json = {})
      : code_(code), message_(std::move(message)), detail_(std::move(detail_json)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // JSON text for the error's "detail" member, or empty.
  const std::string& detail() const { return detail_; }
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string detail_;
};

// Result<T> is either a value or a non-OK Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

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
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

// Status from errno after a failed system call on `what`.
Status ErrnoStatus(std::string_view op, std::string_view what);

}  // namespace hoist

#define HOIST_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::hoist::Status hoist_st_ = (expr);    \
    if (!hoist_st_.ok()) return hoist_st_; \
  } while (0)
