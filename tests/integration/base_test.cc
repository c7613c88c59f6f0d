// The base endpoint, health, and routing of unknown paths and methods.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

TEST_CASE_METHOD(RegistryFixture, "base endpoint answers 200 with the API version header",
                 "[integration][base]") {
  httplib::Response r = Reply(cli.Get("/v2/"));
  CHECK(r.status == 200);
  CHECK(r.get_header_value("Docker-Distribution-API-Version") == "registry/2.0");
  CHECK(r.get_header_value("Content-Type") == "application/json");
  CHECK(nlohmann::json::parse(r.body, nullptr, false).is_object());
}

TEST_CASE_METHOD(RegistryFixture, "healthz answers 200 ok", "[integration][base]") {
  httplib::Response r = Reply(cli.Get("/healthz"));
  CHECK(r.status == 200);
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j.value("status", "") == "ok");
}

TEST_CASE_METHOD(RegistryFixture, "an unknown path is 404 with error JSON", "[integration][base]") {
  httplib::Response r = Reply(cli.Get("/v3/whatever"));
  CHECK(r.status == 404);
  CHECK_FALSE(ErrorCodes(r.body).empty());
  CHECK(r.get_header_value("Docker-Distribution-API-Version") == "registry/2.0");
}

TEST_CASE_METHOD(RegistryFixture, "a method an endpoint lacks is 405 UNSUPPORTED",
                 "[integration][base]") {
  SECTION("DELETE on the base endpoint") {
    httplib::Response r = Reply(cli.Delete("/v2/"));
    CHECK(r.status == 405);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"UNSUPPORTED"});
  }
  SECTION("PUT on the catalog") {
    httplib::Response r = Reply(cli.Put("/v2/_catalog", "{}", "application/json"));
    CHECK(r.status == 405);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"UNSUPPORTED"});
  }
  SECTION("POST on a tag list") {
    httplib::Response r = Reply(cli.Post("/v2/lib/app/tags/list", "", "text/plain"));
    CHECK(r.status == 405);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"UNSUPPORTED"});
  }
  SECTION("PATCH on a manifest") {
    httplib::Response r = Reply(cli.Patch("/v2/lib/app/manifests/latest", "{}", kOciManifest));
    CHECK(r.status == 405);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"UNSUPPORTED"});
  }
}

}  // namespace
}  // namespace hoist::itest
