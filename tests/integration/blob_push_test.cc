// Pushing blobs (distribution-spec v1.1, "Pushing blobs"): monolithic,
// single POST, chunked, streamed, status, cancel, and sha512.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using Codes = std::vector<std::string>;

std::string Range(size_t offset) {
  return "0-" + std::to_string(offset - 1);
}

// PATCHes `chunk` at `offset`; REQUIREs 202 with the spec's headers and
// returns the Location for the next request.
std::string PatchChunk(httplib::Client& cli, const std::string& loc, const std::string& chunk,
                       size_t offset) {
  httplib::Response r = Reply(PatchAt(cli, loc, chunk, offset));
  INFO("PATCH " << loc << " at " << offset << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 202);
  CHECK(r.get_header_value("Range") == Range(offset + chunk.size()));
  REQUIRE(r.has_header("Location"));
  return LocationPath(r.get_header_value("Location"));
}

// Checks the 201 that ends a push, then reads the blob back byte for byte.
void RequireStored(httplib::Client& cli, const httplib::Response& created, const std::string& repo,
                   const std::string& data, const std::string& digest) {
  INFO("push answered " << created.status << " " << created.body);
  REQUIRE(created.status == 201);
  CHECK(LocationPath(created.get_header_value("Location")) == "/v2/" + repo + "/blobs/" + digest);
  CHECK(created.get_header_value("Docker-Content-Digest") == digest);
  httplib::Response r = Reply(cli.Get("/v2/" + repo + "/blobs/" + digest));
  REQUIRE(r.status == 200);
  CHECK(r.get_header_value("Docker-Content-Digest") == digest);
  CHECK(r.body.size() == data.size());
  CHECK(r.body == data);
}

TEST_CASE_METHOD(RegistryFixture, "monolithic POST then PUT stores the blob",
                 "[integration][blob][push]") {
  std::string data = TestBytes(100000, 1);
  std::string digest = Sha256(data);
  httplib::Response post = Reply(cli.Post("/v2/lib/app/blobs/uploads/"));
  REQUIRE(post.status == 202);
  std::string loc = LocationPath(post.get_header_value("Location"));
  CHECK(loc.rfind("/v2/lib/app/blobs/uploads/", 0) == 0);
  CHECK(post.get_header_value("Range") == "0-0");
  RequireStored(
      cli, Reply(cli.Put(WithQuery(loc, "digest=" + digest), data, "application/octet-stream")),
      "lib/app", data, digest);
}

TEST_CASE_METHOD(RegistryFixture, "single POST with digest stores the blob in one request",
                 "[integration][blob][push]") {
  std::string data = TestBytes(5000, 2);
  std::string digest = Sha256(data);
  RequireStored(
      cli,
      Reply(cli.Post("/v2/app/blobs/uploads/?digest=" + digest, data, "application/octet-stream")),
      "app", data, digest);
}

TEST_CASE_METHOD(RegistryFixture, "chunked PATCHes with Content-Range then an empty PUT",
                 "[integration][blob][push]") {
  std::string data = TestBytes(3 * 70000 + 123, 3);
  std::string digest = Sha256(data);
  std::string loc = StartUpload(cli, "app");
  size_t offset = 0;
  for (size_t len : {70000u, 70000u, 70123u}) {
    loc = PatchChunk(cli, loc, data.substr(offset, len), offset);
    offset += len;
  }
  REQUIRE(offset == data.size());
  RequireStored(cli, Reply(CloseUpload(cli, loc, digest)), "app", data, digest);
}

TEST_CASE_METHOD(RegistryFixture, "the closing PUT may carry the last chunk",
                 "[integration][blob][push]") {
  std::string data = TestBytes(30000, 4);
  std::string digest = Sha256(data);
  std::string loc = StartUpload(cli, "app");
  loc = PatchChunk(cli, loc, data.substr(0, 10000), 0);
  loc = PatchChunk(cli, loc, data.substr(10000, 10000), 10000);
  RequireStored(cli, Reply(CloseUpload(cli, loc, digest, data.substr(20000), 20000)), "app", data,
                digest);
}

TEST_CASE_METHOD(RegistryFixture, "a streamed PATCH without Content-Range appends the whole body",
                 "[integration][blob][push]") {
  std::string data = TestBytes(200000, 5);
  std::string digest = Sha256(data);
  std::string loc = StartUpload(cli, "app");
  httplib::Response r;
  SECTION("chunked transfer encoding") {
    // Pieces of uneven sizes, sent as HTTP chunks with no length up front.
    r = Reply(cli.Patch(
        loc, httplib::Headers{},
        [&data](size_t offset, httplib::DataSink& sink) {
          if (offset >= data.size()) {
            sink.done();
            return true;
          }
          size_t n = std::min<size_t>(offset == 0 ? 7 : 65536, data.size() - offset);
          return sink.write(data.data() + offset, n);
        },
        "application/octet-stream"));
  }
  SECTION("with a Content-Length") {
    r = Reply(cli.Patch(loc, data, "application/octet-stream"));
  }
  REQUIRE(r.status == 202);
  CHECK(r.get_header_value("Range") == Range(data.size()));
  loc = LocationPath(r.get_header_value("Location"));
  RequireStored(cli, Reply(CloseUpload(cli, loc, digest)), "app", data, digest);
}

TEST_CASE_METHOD(RegistryFixture, "upload status reports the received range",
                 "[integration][blob][push]") {
  std::string loc = StartUpload(cli, "app");
  loc = PatchChunk(cli, loc, TestBytes(4321, 6), 0);
  httplib::Response r = Reply(cli.Get(loc));
  CHECK(r.status == 204);
  CHECK(r.get_header_value("Range") == "0-4320");
  CHECK(LocationPath(r.get_header_value("Location")) == loc);
  CHECK(r.body.empty());
}

TEST_CASE_METHOD(RegistryFixture, "a cancelled upload is gone", "[integration][blob][push]") {
  std::string loc = StartUpload(cli, "app");
  loc = PatchChunk(cli, loc, TestBytes(100, 7), 0);
  httplib::Response del = Reply(cli.Delete(loc));
  CHECK(del.status == 204);

  RequireUploadUnknown(cli, loc);
}

TEST_CASE_METHOD(RegistryFixture, "a sha512 upload is stored under its sha512 digest",
                 "[integration][blob][push]") {
  std::string data = TestBytes(50000, 8);
  std::string digest = Sha512(data);
  std::string loc = StartUpload(cli, "app", "digest-algorithm=sha512");
  loc = PatchChunk(cli, loc, data.substr(0, 20000), 0);
  RequireStored(cli, Reply(CloseUpload(cli, loc, digest, data.substr(20000), 20000)), "app", data,
                digest);
  httplib::Response head = Reply(cli.Head("/v2/app/blobs/" + digest));
  CHECK(head.status == 200);
  CHECK(head.get_header_value("Content-Length") == std::to_string(data.size()));
  // The same bytes are not visible under their sha256 name.
  CHECK(Reply(cli.Head("/v2/app/blobs/" + Sha256(data))).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "an empty blob can be pushed and pulled",
                 "[integration][blob][push]") {
  std::string digest = Sha256("");
  std::string loc = StartUpload(cli, "app");
  RequireStored(cli, Reply(CloseUpload(cli, loc, digest)), "app", "", digest);
  httplib::Response head = Reply(cli.Head("/v2/app/blobs/" + digest));
  CHECK(head.status == 200);
  CHECK(head.get_header_value("Content-Length") == "0");
}

TEST_CASE_METHOD(RegistryFixture, "a 24 MiB blob round-trips byte for byte",
                 "[integration][blob][push]") {
  std::string data = TestBytes(24 << 20, 9);
  std::string digest = Sha256(data);
  std::string loc = StartUpload(cli, "big/blob");
  RequireStored(
      cli, Reply(cli.Put(WithQuery(loc, "digest=" + digest), data, "application/octet-stream")),
      "big/blob", data, digest);
}

}  // namespace
}  // namespace hoist::itest
