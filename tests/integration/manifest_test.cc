// Manifests (distribution-spec v1.1, "Pushing manifests", "Pulling
// manifests", "Deleting Manifests"): exact bytes, media types, Accept,
// tags on push, subject, deletion.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using nlohmann::json;

// Pushes a config and a layer for a manifest (in `repo`).
struct Blobs {
  Descriptor config;
  Descriptor layer;
};
Blobs PushBlobs(httplib::Client& cli, const std::string& repo, const std::string& config_type,
                const std::string& layer_type, uint32_t seed) {
  std::string config = json{{"os", "linux"}, {"architecture", "arm64"}, {"seed", seed}}.dump();
  std::string layer = TestBytes(777, seed);
  PushBlob(cli, repo, config);
  PushBlob(cli, repo, layer);
  return {DescriptorOf(config_type, config), DescriptorOf(layer_type, layer)};
}

// An OCI manifest in a non-canonical layout (indentation, key order), so
// only a registry that keeps the exact bytes returns the same digest.
std::string PrettyManifest(const Blobs& b) {
  return json::parse(ImageManifest(b.config, {b.layer})).dump(3) + "\n";
}

// PUTs `body` as `type` under `tag`; REQUIREs 201, then that GET by tag
// returns the same bytes with the same type.
void RequireRoundTrip(httplib::Client& cli, const std::string& repo, const std::string& tag,
                      const std::string& type, const std::string& body) {
  httplib::Response put = Reply(PutManifest(cli, repo, tag, type, body));
  INFO("PUT " << type << " -> " << put.status << " " << put.body);
  REQUIRE(put.status == 201);
  CHECK(put.get_header_value("Docker-Content-Digest") == Sha256(body));
  httplib::Response get = Reply(cli.Get("/v2/" + repo + "/manifests/" + tag));
  CHECK(get.status == 200);
  CHECK(get.get_header_value("Content-Type") == type);
  CHECK(get.body == body);
}

TEST_CASE_METHOD(RegistryFixture, "PUT manifest by tag is 201 with its digest",
                 "[integration][manifest]") {
  Blobs b = PushBlobs(cli, "lib/app", kOciConfig, kOciLayer, 1);
  std::string body = PrettyManifest(b);
  std::string digest = Sha256(body);
  httplib::Response r = Reply(PutManifest(cli, "lib/app", "v1", kOciManifest, body));
  CHECK(r.status == 201);
  CHECK(LocationPath(r.get_header_value("Location")) == "/v2/lib/app/manifests/" + digest);
  CHECK(r.get_header_value("Docker-Content-Digest") == digest);
  CHECK_FALSE(r.has_header("OCI-Subject"));
}

TEST_CASE_METHOD(RegistryFixture, "GET manifest by tag or digest returns the pushed bytes",
                 "[integration][manifest]") {
  Blobs b = PushBlobs(cli, "app", kOciConfig, kOciLayer, 2);
  std::string body = PrettyManifest(b);
  std::string digest = Sha256(body);
  REQUIRE(Reply(PutManifest(cli, "app", "latest", kOciManifest, body)).status == 201);

  for (const std::string& ref : {std::string("latest"), digest}) {
    INFO("reference " << ref);
    httplib::Response r = Reply(cli.Get("/v2/app/manifests/" + ref));
    CHECK(r.status == 200);
    CHECK(r.body == body);
    CHECK(r.get_header_value("Content-Type") == kOciManifest);
    CHECK(r.get_header_value("Docker-Content-Digest") == digest);
    CHECK(r.get_header_value("Content-Length") == std::to_string(body.size()));
  }
}

TEST_CASE_METHOD(RegistryFixture, "HEAD manifest gives type and digest and length without a body",
                 "[integration][manifest]") {
  PushedImage img = PushImage(cli, "app", "v1", 3);
  httplib::Response r = Reply(cli.Head("/v2/app/manifests/v1"));
  CHECK(r.status == 200);
  CHECK(r.get_header_value("Content-Type") == kOciManifest);
  CHECK(r.get_header_value("Docker-Content-Digest") == img.digest);
  CHECK(r.get_header_value("Content-Length") == std::to_string(img.manifest.size()));
  CHECK(r.body.empty());
  CHECK(Reply(cli.Head("/v2/app/manifests/nope")).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "Accept decides whether a tag's manifest is served",
                 "[integration][manifest][accept]") {
  PushedImage img = PushImage(cli, "app", "v1", 4);
  SECTION("an Accept without the manifest's type is 404 MANIFEST_UNKNOWN") {
    httplib::Response r = Reply(cli.Get("/v2/app/manifests/v1", {{"Accept", kDockerManifest}}));
    CHECK(r.status == 404);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"MANIFEST_UNKNOWN"});
  }
  SECTION("*/* accepts anything") {
    httplib::Response r = Reply(cli.Get("/v2/app/manifests/v1", {{"Accept", "*/*"}}));
    CHECK(r.status == 200);
    CHECK(r.body == img.manifest);
  }
  SECTION("a list that names the type, with parameters, accepts it") {
    httplib::Response r =
        Reply(cli.Get("/v2/app/manifests/v1",
                      {{"Accept", std::string(kDockerManifest) + ", " + kOciManifest + ";q=0.9"}}));
    CHECK(r.status == 200);
    CHECK(r.get_header_value("Content-Type") == kOciManifest);
  }
}

TEST_CASE_METHOD(RegistryFixture, "an OCI index is stored and served with its type",
                 "[integration][manifest][index]") {
  PushedImage amd = PushImage(cli, "multi", "", 5);
  PushedImage arm = PushImage(cli, "multi", "", 6);
  std::string index = IndexManifest(kOciIndex, {DescriptorOf(kOciManifest, amd.manifest),
                                                DescriptorOf(kOciManifest, arm.manifest)});
  RequireRoundTrip(cli, "multi", "latest", kOciIndex, index);
}

TEST_CASE_METHOD(RegistryFixture, "Docker schema2 manifests and manifest lists keep their types",
                 "[integration][manifest][docker]") {
  Blobs b = PushBlobs(cli, "dock", kDockerConfig, kDockerLayer, 7);
  json m = {{"schemaVersion", 2},
            {"mediaType", kDockerManifest},
            {"config", b.config.ToJson()},
            {"layers", json::array({b.layer.ToJson()})}};
  std::string manifest = m.dump();
  RequireRoundTrip(cli, "dock", "single", kDockerManifest, manifest);
  std::string list = IndexManifest(kDockerManifestList, {DescriptorOf(kDockerManifest, manifest)});
  RequireRoundTrip(cli, "dock", "list", kDockerManifestList, list);
}

TEST_CASE_METHOD(RegistryFixture, "PUT by digest with tag parameters applies every tag",
                 "[integration][manifest][tags]") {
  PushedImage img = PushImage(cli, "app", "", 8);  // by digest, untagged
  httplib::Response r =
      Reply(PutManifest(cli, "app", img.digest + "?tag=a&tag=b", kOciManifest, img.manifest));
  REQUIRE(r.status == 201);
  std::vector<std::string> tags = HeaderValues(r, "OCI-Tag");
  std::sort(tags.begin(), tags.end());
  CHECK(tags == std::vector<std::string>{"a", "b"});
  for (const char* tag : {"a", "b"}) {
    INFO("tag " << tag);
    httplib::Response get = Reply(cli.Get(std::string("/v2/app/manifests/") + tag));
    CHECK(get.status == 200);
    CHECK(get.get_header_value("Docker-Content-Digest") == img.digest);
  }
}

TEST_CASE_METHOD(RegistryFixture, "a manifest with a subject gets the OCI-Subject header",
                 "[integration][manifest][subject]") {
  PushedImage base = PushImage(cli, "app", "v1", 9);
  PushedImage referrer = PushImage(
      cli, "app", "", 10, json{{"subject", DescriptorOf(kOciManifest, base.manifest).ToJson()}});
  // PushImage asserted the 201; push again to read the headers.
  httplib::Response r =
      Reply(PutManifest(cli, "app", referrer.digest, kOciManifest, referrer.manifest));
  CHECK(r.status == 201);
  CHECK(r.get_header_value("OCI-Subject") == base.digest);
}

TEST_CASE_METHOD(RegistryFixture, "a subject that does not exist yet is accepted",
                 "[integration][manifest][subject]") {
  std::string missing = Sha256("a manifest pushed later");
  json subject = {{"mediaType", kOciManifest}, {"digest", missing}, {"size", 123}};
  Blobs b = PushBlobs(cli, "app", kOciConfig, kOciLayer, 11);
  std::string body = ImageManifest(b.config, {b.layer}, json{{"subject", subject}});
  httplib::Response r = Reply(PutManifest(cli, "app", Sha256(body), kOciManifest, body));
  CHECK(r.status == 201);
  CHECK(r.get_header_value("OCI-Subject") == missing);
}

TEST_CASE_METHOD(RegistryFixture, "pushing to an existing tag moves it",
                 "[integration][manifest][tags]") {
  PushImage(cli, "app", "latest", 12);
  PushedImage second = PushImage(cli, "app", "latest", 13);
  httplib::Response r = Reply(cli.Get("/v2/app/manifests/latest"));
  CHECK(r.get_header_value("Docker-Content-Digest") == second.digest);
  CHECK(r.body == second.manifest);
}

TEST_CASE_METHOD(RegistryFixture, "deleting a tag leaves the manifest",
                 "[integration][manifest][delete]") {
  PushedImage img = PushImage(cli, "app", "v1", 14);
  httplib::Response del = Reply(cli.Delete("/v2/app/manifests/v1"));
  CHECK(del.status == 202);
  httplib::Response by_tag = Reply(cli.Get("/v2/app/manifests/v1"));
  CHECK(by_tag.status == 404);
  CHECK(ErrorCodes(by_tag.body) == std::vector<std::string>{"MANIFEST_UNKNOWN"});
  httplib::Response by_digest = Reply(cli.Get("/v2/app/manifests/" + img.digest));
  CHECK(by_digest.status == 200);
  CHECK(by_digest.body == img.manifest);
  CHECK(Reply(cli.Delete("/v2/app/manifests/v1")).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "deleting a manifest by digest removes it and its tags",
                 "[integration][manifest][delete]") {
  PushedImage img = PushImage(cli, "app", "v1", 15);
  REQUIRE(Reply(PutManifest(cli, "app", "v1-alias", kOciManifest, img.manifest)).status == 201);
  PushedImage other = PushImage(cli, "app", "other", 16);

  httplib::Response del = Reply(cli.Delete("/v2/app/manifests/" + img.digest));
  CHECK(del.status == 202);
  CHECK(Reply(cli.Get("/v2/app/manifests/" + img.digest)).status == 404);
  CHECK(Reply(cli.Get("/v2/app/manifests/v1")).status == 404);
  CHECK(Reply(cli.Get("/v2/app/manifests/v1-alias")).status == 404);
  CHECK(Reply(cli.Get("/v2/app/manifests/other")).status == 200);

  httplib::Response tags = Reply(cli.Get("/v2/app/tags/list"));
  REQUIRE(tags.status == 200);
  CHECK(json::parse(tags.body)["tags"] == json::array({"other"}));
  CHECK(Reply(cli.Delete("/v2/app/manifests/" + img.digest)).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "unknown manifests are 404 MANIFEST_UNKNOWN",
                 "[integration][manifest]") {
  PushImage(cli, "app", "v1", 17);
  for (const std::string& ref : {std::string("v2"), Sha256("nothing")}) {
    INFO("reference " << ref);
    httplib::Response r = Reply(cli.Get("/v2/app/manifests/" + ref));
    CHECK(r.status == 404);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"MANIFEST_UNKNOWN"});
  }
}

}  // namespace
}  // namespace hoist::itest
