// Listing tags (distribution-spec v1.1, "Listing Tags"): order, n/last
// pagination with the Link header, unknown repositories.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using nlohmann::json;

struct TaggedRepoFixture : RegistryFixture {
  TaggedRepoFixture() {
    PushedImage img = PushImage(cli, "lib/app", "v3", 31);
    for (const char* tag : {"v1", "latest", "v2", "alpha"}) {
      httplib::Response r = Reply(PutManifest(cli, "lib/app", tag, kOciManifest, img.manifest));
      REQUIRE(r.status == 201);
    }
  }

  // GET `path`; REQUIREs 200 and returns the "tags" array.
  json Tags(const std::string& path, httplib::Response* out = nullptr) {
    httplib::Response r = Reply(cli.Get(path));
    INFO("GET " << path << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.get_header_value("Content-Type") == "application/json");
    json j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["name"] == "lib/app");
    if (out) *out = r;
    return j["tags"];
  }
};

TEST_CASE_METHOD(TaggedRepoFixture, "tags are listed in lexical order", "[integration][tags]") {
  httplib::Response r;
  CHECK(Tags("/v2/lib/app/tags/list", &r) == json::array({"alpha", "latest", "v1", "v2", "v3"}));
  CHECK_FALSE(r.has_header("Link"));
}

TEST_CASE_METHOD(TaggedRepoFixture, "n pages the list and Link names the next page",
                 "[integration][tags][pagination]") {
  httplib::Response r;
  CHECK(Tags("/v2/lib/app/tags/list?n=2", &r) == json::array({"alpha", "latest"}));
  CHECK(r.get_header_value("Link") == "</v2/lib/app/tags/list?last=latest&n=2>; rel=\"next\"");

  CHECK(Tags("/v2/lib/app/tags/list?last=latest&n=2", &r) == json::array({"v1", "v2"}));
  CHECK(r.get_header_value("Link") == "</v2/lib/app/tags/list?last=v2&n=2>; rel=\"next\"");

  CHECK(Tags("/v2/lib/app/tags/list?last=v2&n=2", &r) == json::array({"v3"}));
  CHECK_FALSE(r.has_header("Link"));
}

TEST_CASE_METHOD(TaggedRepoFixture, "following Link headers visits every tag once",
                 "[integration][tags][pagination]") {
  CHECK(CollectPages(cli, "/v2/lib/app/tags/list?n=1", "tags") ==
        json::array({"alpha", "latest", "v1", "v2", "v3"}));
}

TEST_CASE_METHOD(TaggedRepoFixture, "last alone lists every tag after it",
                 "[integration][tags][pagination]") {
  CHECK(Tags("/v2/lib/app/tags/list?last=v1") == json::array({"v2", "v3"}));
  CHECK(Tags("/v2/lib/app/tags/list?last=zzz") == json::array());
}

TEST_CASE_METHOD(TaggedRepoFixture, "n=0 is an empty list without Link",
                 "[integration][tags][pagination]") {
  httplib::Response r;
  CHECK(Tags("/v2/lib/app/tags/list?n=0", &r) == json::array());
  CHECK_FALSE(r.has_header("Link"));
}

TEST_CASE_METHOD(RegistryFixture, "tags of an unknown repository are 404 NAME_UNKNOWN",
                 "[integration][tags]") {
  httplib::Response r = Reply(cli.Get("/v2/no/such/repo/tags/list"));
  CHECK(r.status == 404);
  CHECK(ErrorCodes(r.body) == std::vector<std::string>{"NAME_UNKNOWN"});
}

TEST_CASE_METHOD(RegistryFixture, "a non-numeric n is 400", "[integration][tags][pagination]") {
  PushImage(cli, "app", "v1", 32);
  httplib::Response r = Reply(cli.Get("/v2/app/tags/list?n=ten"));
  CHECK(r.status == 400);
  CHECK(ErrorCodes(r.body).size() == 1);
}

}  // namespace
}  // namespace hoist::itest
