// The catalog (/v2/_catalog): sorted repositories, nested names, paging.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using nlohmann::json;

struct CatalogFixture : RegistryFixture {
  CatalogFixture() {
    uint32_t seed = 50;
    for (const char* repo : {"zeta", "alpha/beta/gamma", "alpha", "mid/one", "alpha/beta"}) {
      PushImage(cli, repo, "latest", seed++);
    }
    PushBlob(cli, "blobs-only", "no manifest here");
  }

  json Repositories(const std::string& path, httplib::Response* out = nullptr) {
    httplib::Response r = Reply(cli.Get(path));
    INFO("GET " << path << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    json j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    if (out) *out = r;
    return j["repositories"];
  }
};

TEST_CASE_METHOD(CatalogFixture, "the catalog lists repositories with manifests in order",
                 "[integration][catalog]") {
  httplib::Response r;
  CHECK(Repositories("/v2/_catalog", &r) ==
        json::array({"alpha", "alpha/beta", "alpha/beta/gamma", "mid/one", "zeta"}));
  CHECK_FALSE(r.has_header("Link"));
}

TEST_CASE_METHOD(CatalogFixture, "catalog pages follow the Link header",
                 "[integration][catalog][pagination]") {
  httplib::Response r;
  CHECK(Repositories("/v2/_catalog?n=2", &r) == json::array({"alpha", "alpha/beta"}));
  CHECK(r.get_header_value("Link") == "</v2/_catalog?last=alpha/beta&n=2>; rel=\"next\"");

  CHECK(CollectPages(cli, "/v2/_catalog?n=2", "repositories") ==
        json::array({"alpha", "alpha/beta", "alpha/beta/gamma", "mid/one", "zeta"}));
}

TEST_CASE_METHOD(RegistryFixture, "an empty registry has an empty catalog",
                 "[integration][catalog]") {
  httplib::Response r = Reply(cli.Get("/v2/_catalog"));
  CHECK(r.status == 200);
  json j = json::parse(r.body, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["repositories"] == json::array());
}

}  // namespace
}  // namespace hoist::itest
