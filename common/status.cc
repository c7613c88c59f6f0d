#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace hoist {
namespace {

// distribution-spec v1.1, "Error Codes" (code-1 .. code-14), plus the
// statuses the reference registry (distribution 2.8) uses for each.
constexpr CodeInfo kTable[] = {
    {Code::kBlobUnknown, "BLOB_UNKNOWN", 404, "blob unknown to registry"},
    {Code::kBlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400, "blob upload invalid"},
    {Code::kBlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"},
    {Code::kDigestInvalid, "DIGEST_INVALID", 400, "provided digest did not match uploaded content"},
    {Code::kManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 400,
     "manifest references a manifest or blob unknown to registry"},
    {Code::kManifestInvalid, "MANIFEST_INVALID", 400, "manifest invalid"},
    {Code::kManifestUnknown, "MANIFEST_UNKNOWN", 404, "manifest unknown to registry"},
    {Code::kNameInvalid, "NAME_INVALID", 400, "invalid repository name"},
    {Code::kNameUnknown, "NAME_UNKNOWN", 404, "repository name not known to registry"},
    {Code::kSizeInvalid, "SIZE_INVALID", 400, "provided length did not match content length"},
    {Code::kUnauthorized, "UNAUTHORIZED", 401, "authentication required"},
    {Code::kDenied, "DENIED", 403, "requested access to the resource is denied"},
    {Code::kUnsupported, "UNSUPPORTED", 405, "the operation is unsupported"},
    {Code::kTooManyRequests, "TOOMANYREQUESTS", 429, "too many requests"},
    {Code::kRangeInvalid, "RANGE_INVALID", 416, "invalid content range"},
    {Code::kManifestTooLarge, "MANIFEST_INVALID", 413, "manifest too large"},
    {Code::kPaginationInvalid, "PAGINATION_NUMBER_INVALID", 400,
     "invalid number of results requested"},
    // distribution's errcode.ErrorCodeUnavailable: a backend is down; retry.
    {Code::kUnavailable, "UNAVAILABLE", 503, "service unavailable"},
};
constexpr CodeInfo kUnknown = {Code::kInternal, "UNKNOWN", 500, "unknown error"};

}  // namespace

const CodeInfo& InfoFor(Code code) {
  for (const CodeInfo& row : kTable) {
    if (row.code == code) return row;
  }
  return kUnknown;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(InfoFor(code_).name);
  if (!message_.empty()) s += ": " + message_;
  return s;
}

Status ErrnoStatus(std::string_view op, std::string_view what) {
  int e = errno;
  Code code = (e == ENOENT || e == ENOTDIR) ? Code::kNotFound : Code::kIo;
  return Status(code, std::string(op) + " " + std::string(what) + ": " + std::strerror(e));
}

}  // namespace hoist
