#include "common/status.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <vector>

namespace hoist {
namespace {

struct Row {
  Code code;
  const char* name;
  int http;
};

TEST_CASE("Each distribution-spec code maps to its wire name and HTTP status", "[status]") {
  const std::vector<Row> rows = {
      {Code::kBlobUnknown, "BLOB_UNKNOWN", 404},
      {Code::kBlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400},
      {Code::kBlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404},
      {Code::kDigestInvalid, "DIGEST_INVALID", 400},
      {Code::kManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 400},
      {Code::kManifestInvalid, "MANIFEST_INVALID", 400},
      {Code::kManifestUnknown, "MANIFEST_UNKNOWN", 404},
      {Code::kNameInvalid, "NAME_INVALID", 400},
      {Code::kNameUnknown, "NAME_UNKNOWN", 404},
      {Code::kSizeInvalid, "SIZE_INVALID", 400},
      {Code::kUnauthorized, "UNAUTHORIZED", 401},
      {Code::kDenied, "DENIED", 403},
      {Code::kUnsupported, "UNSUPPORTED", 405},
      {Code::kTooManyRequests, "TOOMANYREQUESTS", 429},
      {Code::kRangeInvalid, "RANGE_INVALID", 416},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    const CodeInfo& info = InfoFor(r.code);
    CHECK(info.code == r.code);
    CHECK(info.name == r.name);
    CHECK(info.http_status == r.http);
    CHECK_FALSE(info.message.empty());
  }
}

TEST_CASE("A manifest that is too large is MANIFEST_INVALID with status 413", "[status]") {
  const CodeInfo& info = InfoFor(Code::kManifestTooLarge);
  CHECK(info.name == "MANIFEST_INVALID");
  CHECK(info.http_status == 413);
}

TEST_CASE("An invalid pagination number is a 400", "[status]") {
  CHECK(InfoFor(Code::kPaginationInvalid).http_status == 400);
}

TEST_CASE("An unreachable backend is 503 UNAVAILABLE, as in distribution", "[status]") {
  CHECK(InfoFor(Code::kUnavailable).http_status == 503);
  CHECK(InfoFor(Code::kUnavailable).name == "UNAVAILABLE");
}

TEST_CASE("Internal codes render as UNKNOWN with status 500", "[status]") {
  for (Code c : {Code::kNotFound, Code::kInvalidArgument, Code::kIo, Code::kInternal}) {
    const CodeInfo& info = InfoFor(c);
    CHECK(info.name == "UNKNOWN");
    CHECK(info.http_status == 500);
  }
}

TEST_CASE("Status carries code, message and detail, and ToString names the code", "[status]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(Status::Ok().ok());
  CHECK(ok.ToString() == "OK");

  Status st(Code::kBlobUnknown, "no such blob", R"({"digest":"x"})");
  CHECK_FALSE(st.ok());
  CHECK(st.code() == Code::kBlobUnknown);
  CHECK(st.message() == "no such blob");
  CHECK(st.detail() == R"({"digest":"x"})");
  CHECK(st.ToString() == "BLOB_UNKNOWN: no such blob");
  CHECK(Status(Code::kIo, "").ToString() == "UNKNOWN");
}

TEST_CASE("Result holds either a value or a status", "[status]") {
  Result<std::string> v(std::string("hello"));
  REQUIRE(v.ok());
  CHECK(v.status().ok());
  CHECK(*v == "hello");
  CHECK(v->size() == 5);
  std::string moved = std::move(v).value();
  CHECK(moved == "hello");

  Result<std::string> e(Status(Code::kNameUnknown, "nope"));
  CHECK_FALSE(e.ok());
  CHECK(e.status().code() == Code::kNameUnknown);
  CHECK(e.status().message() == "nope");
}

TEST_CASE("HOIST_RETURN_IF_ERROR returns the first failure", "[status]") {
  int reached = 0;
  auto f = [&](Status a, Status b) -> Status {
    HOIST_RETURN_IF_ERROR(a);
    ++reached;
    HOIST_RETURN_IF_ERROR(b);
    ++reached;
    return Status::Ok();
  };
  CHECK(f(Status::Ok(), Status::Ok()).ok());
  CHECK(reached == 2);
  reached = 0;
  CHECK(f(Status(Code::kDenied, "x"), Status::Ok()).code() == Code::kDenied);
  CHECK(reached == 0);
  CHECK(f(Status::Ok(), Status(Code::kIo, "y")).code() == Code::kIo);
  CHECK(reached == 1);
}

TEST_CASE("ErrnoStatus maps ENOENT to kNotFound and others to kIo", "[status]") {
  errno = ENOENT;
  Status nf = ErrnoStatus("open", "/x");
  CHECK(nf.code() == Code::kNotFound);
  CHECK(nf.message().find("open /x") != std::string::npos);
  errno = EACCES;
  CHECK(ErrnoStatus("open", "/x").code() == Code::kIo);
}

}  // namespace
}  // namespace hoist
