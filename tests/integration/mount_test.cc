// Cross-repository blob mount (distribution-spec v1.1, "Mounting a blob
// from another repository", end-11).
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

TEST_CASE_METHOD(RegistryFixture, "mounting a blob the source has is 201 and makes it readable",
                 "[integration][blob][mount]") {
  std::string data = TestBytes(3000, 21);
  std::string digest = PushBlob(cli, "source/repo", data);
  REQUIRE(Reply(cli.Head("/v2/target/blobs/" + digest)).status == 404);

  httplib::Response r =
      Reply(cli.Post("/v2/target/blobs/uploads/?mount=" + digest + "&from=source/repo"));
  CHECK(r.status == 201);
  CHECK(LocationPath(r.get_header_value("Location")) == "/v2/target/blobs/" + digest);
  CHECK(r.get_header_value("Docker-Content-Digest") == digest);

  httplib::Response get = Reply(cli.Get("/v2/target/blobs/" + digest));
  CHECK(get.status == 200);
  CHECK(get.body == data);
  // The source keeps it.
  CHECK(Reply(cli.Head("/v2/source/repo/blobs/" + digest)).status == 200);
}

TEST_CASE_METHOD(RegistryFixture, "mounting a blob the source lacks opens an upload session",
                 "[integration][blob][mount]") {
  std::string data = TestBytes(3000, 22);
  std::string digest = Sha256(data);
  PushBlob(cli, "elsewhere", data);  // exists, but not in the named source

  httplib::Response r =
      Reply(cli.Post("/v2/target/blobs/uploads/?mount=" + digest + "&from=source"));
  CHECK(r.status == 202);
  std::string loc = LocationPath(r.get_header_value("Location"));
  REQUIRE(loc.rfind("/v2/target/blobs/uploads/", 0) == 0);
  CHECK(Reply(cli.Head("/v2/target/blobs/" + digest)).status == 404);

  // The session is usable: finish the push through it.
  httplib::Response put =
      Reply(cli.Put(WithQuery(loc, "digest=" + digest), data, "application/octet-stream"));
  CHECK(put.status == 201);
  CHECK(Reply(cli.Get("/v2/target/blobs/" + digest)).body == data);
}

}  // namespace
}  // namespace hoist::itest
