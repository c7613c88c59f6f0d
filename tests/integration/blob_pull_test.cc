// Pulling and deleting blobs (distribution-spec v1.1, "Pulling blobs",
// "Checking if content exists", "Deleting Blobs"), with byte ranges.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

struct PushedBlobFixture : RegistryFixture {
  PushedBlobFixture() : data(TestBytes(100, 11)), digest(PushBlob(cli, "app", data)) {}
  std::string Url() const { return "/v2/app/blobs/" + digest; }
  httplib::Response GetRange(const std::string& range) {
    return Reply(cli.Get(Url(), {{"Range", range}}));
  }

  std::string data;
  std::string digest;
};

TEST_CASE_METHOD(PushedBlobFixture, "HEAD blob gives length and digest without a body",
                 "[integration][blob][pull]") {
  httplib::Response r = Reply(cli.Head(Url()));
  CHECK(r.status == 200);
  CHECK(r.get_header_value("Content-Length") == "100");
  CHECK(r.get_header_value("Docker-Content-Digest") == digest);
  CHECK(r.body.empty());
}

TEST_CASE_METHOD(PushedBlobFixture, "GET blob returns the exact bytes",
                 "[integration][blob][pull]") {
  httplib::Response r = Reply(cli.Get(Url()));
  CHECK(r.status == 200);
  CHECK(r.get_header_value("Content-Length") == "100");
  CHECK(r.get_header_value("Docker-Content-Digest") == digest);
  CHECK(r.body == data);
}

TEST_CASE_METHOD(PushedBlobFixture, "a blob of another repository is unknown here",
                 "[integration][blob][pull]") {
  httplib::Response r = Reply(cli.Get("/v2/other/blobs/" + digest));
  CHECK(r.status == 404);
  CHECK(ErrorCodes(r.body) == std::vector<std::string>{"BLOB_UNKNOWN"});
  CHECK(Reply(cli.Head("/v2/other/blobs/" + digest)).status == 404);
}

TEST_CASE_METHOD(PushedBlobFixture, "byte ranges return 206 with Content-Range",
                 "[integration][blob][pull][range]") {
  SECTION("first ten bytes") {
    httplib::Response r = GetRange("bytes=0-9");
    CHECK(r.status == 206);
    CHECK(r.get_header_value("Content-Range") == "bytes 0-9/100");
    CHECK(r.get_header_value("Content-Length") == "10");
    CHECK(r.body == data.substr(0, 10));
  }
  SECTION("open-ended range from an offset") {
    httplib::Response r = GetRange("bytes=10-");
    CHECK(r.status == 206);
    CHECK(r.get_header_value("Content-Range") == "bytes 10-99/100");
    CHECK(r.body == data.substr(10));
  }
  SECTION("suffix range") {
    httplib::Response r = GetRange("bytes=-5");
    CHECK(r.status == 206);
    CHECK(r.get_header_value("Content-Range") == "bytes 95-99/100");
    CHECK(r.body == data.substr(95));
  }
  SECTION("an end past the size is clamped") {
    httplib::Response r = GetRange("bytes=90-1000");
    CHECK(r.status == 206);
    CHECK(r.get_header_value("Content-Range") == "bytes 90-99/100");
    CHECK(r.body == data.substr(90));
  }
}

TEST_CASE_METHOD(PushedBlobFixture, "an unsatisfiable range is 416",
                 "[integration][blob][pull][range]") {
  for (const char* range : {"bytes=100-", "bytes=500-600", "bytes=9-3"}) {
    INFO("Range: " << range);
    httplib::Response r = GetRange(range);
    CHECK(r.status == 416);
    CHECK(r.get_header_value("Content-Range") == "bytes */100");
  }
}

TEST_CASE_METHOD(PushedBlobFixture, "a deleted blob is 404 afterwards",
                 "[integration][blob][delete]") {
  httplib::Response del = Reply(cli.Delete(Url()));
  CHECK(del.status == 202);
  httplib::Response head = Reply(cli.Head(Url()));
  CHECK(head.status == 404);
  httplib::Response get = Reply(cli.Get(Url()));
  CHECK(get.status == 404);
  CHECK(ErrorCodes(get.body) == std::vector<std::string>{"BLOB_UNKNOWN"});
  httplib::Response again = Reply(cli.Delete(Url()));
  CHECK(again.status == 404);
  CHECK(ErrorCodes(again.body) == std::vector<std::string>{"BLOB_UNKNOWN"});
}

TEST_CASE_METHOD(PushedBlobFixture, "deleting a blob in one repository leaves it in another",
                 "[integration][blob][delete]") {
  REQUIRE(Reply(cli.Post("/v2/copy/blobs/uploads/?mount=" + digest + "&from=app")).status == 201);
  REQUIRE(Reply(cli.Delete(Url())).status == 202);
  CHECK(Reply(cli.Head(Url())).status == 404);
  httplib::Response r = Reply(cli.Get("/v2/copy/blobs/" + digest));
  CHECK(r.status == 200);
  CHECK(r.body == data);
}

}  // namespace
}  // namespace hoist::itest
