#include "builder/transfer/image.h"

#include <atomic>
#include <catch2/catch.hpp>

#include "builder/transfer/verify.h"
#include "fixtures.h"

using namespace hoist;
using namespace hoist::transfer;

namespace {
using testing::DescJson;
Manifest Make(const std::string& type, const std::string& bytes) {
  auto m = MakeManifest(type, bytes);
  REQUIRE(m.ok());
  return *m;
}
}  // namespace

TEST_CASE("platforms parse, normalise and match", "[image]") {
  auto p = Platform::Parse("linux/arm64/v8");
  REQUIRE(p.ok());
  CHECK(p->String() == "linux/arm64");
  CHECK(p->Matches({"linux", "arm64", ""}));
  CHECK(p->Matches({"linux", "aarch64", "v8"}));
  CHECK_FALSE(p->Matches({"linux", "amd64", ""}));
  CHECK(Platform::Parse("linux/arm")->variant == "v7");
  CHECK_FALSE(Platform::Parse("linux/arm/v6")->Matches({"linux", "arm", "v7"}));
  CHECK(Platform::Parse("linux/amd64")->Matches({"linux", "x86_64", ""}));
  for (const char* bad : {"linux", "", "linux/", "/amd64", "a/b/c/d"}) {
    INFO(bad);
    CHECK_FALSE(Platform::Parse(bad).ok());
  }
  CHECK(Platform::Host().os == "linux");
}

TEST_CASE("image manifests and indexes parse into descriptors", "[image]") {
  std::string config = "{}", layer = "layer bytes";
  Manifest m =
      Make("",
           "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
           "\"config\":" +
               DescJson("application/vnd.oci.image.config.v1+json", config) + ",\"layers\":[" +
               DescJson("application/vnd.oci.image.layer.v1.tar+gzip", layer) + "]}");
  CHECK(m.media_type == "application/vnd.oci.image.manifest.v1+json");
  CHECK_FALSE(m.is_index());
  auto c = ParseManifest(m);
  REQUIRE(c.ok());
  REQUIRE(c->config);
  CHECK(c->config->digest == DigestOf(config));
  REQUIRE(c->layers.size() == 1);
  CHECK(c->layers[0].size == static_cast<int64_t>(layer.size()));

  Manifest idx = Make(
      "application/vnd.oci.image.index.v1+json",
      "{\"schemaVersion\":2,\"manifests\":[" +
          DescJson("application/vnd.oci.image.manifest.v1+json", m.bytes,
                   ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") +
          "," +
          DescJson(
              "application/vnd.oci.image.manifest.v1+json", "x",
              ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}") +
          "]}");
  auto ic = ParseManifest(idx);
  REQUIRE(ic.ok());
  REQUIRE(ic->children.size() == 2);
  auto arm = SelectPlatform(idx, *ic, *Platform::Parse("linux/arm64"));
  REQUIRE(arm.ok());
  CHECK(arm->digest == DigestOf("x"));
  auto none = SelectPlatform(idx, *ic, *Platform::Parse("linux/s390x"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("linux/amd64, linux/arm64") != std::string::npos);
}

TEST_CASE("bad manifests are refused", "[image]") {
  CHECK(ParseManifest(Make("application/vnd.oci.image.manifest.v1+json", "not json"))
            .status()
            .code() == Code::kManifestInvalid);
  CHECK(ParseManifest(
            Make("application/vnd.docker.distribution.manifest.v1+json", "{\"schemaVersion\":1}"))
            .status()
            .code() == Code::kUnsupported);
  CHECK(
      ParseManifest(Make("application/vnd.oci.image.manifest.v1+json", "{\"config\":{\"size\":1}}"))
          .status()
          .code() == Code::kManifestInvalid);
  CHECK(ParseManifest(
            Make("application/vnd.oci.image.manifest.v1+json",
                 "{\"config\":{\"digest\":\"sha256:" + std::string(64, '0') + "\",\"size\":-1}}"))
            .status()
            .code() == Code::kManifestInvalid);
  // Foreign layers are marked, so copies skip them.
  Manifest f =
      Make("application/vnd.docker.distribution.manifest.v2+json",
           "{\"config\":" + DescJson("c", "c") + ",\"layers\":[" +
               DescJson("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "w") + "]}");
  CHECK(ParseManifest(f)->layers[0].foreign);
}

namespace {
Descriptor Blob(const std::string& s) {
  Descriptor d;
  d.digest = DigestOf(s);
  d.size = static_cast<int64_t>(s.size());
  return d;
}
Result<std::string> ReadThrough(const std::string& actual, const Descriptor& d,
                                std::atomic<bool>* cancel = nullptr) {
  VerifyingReader r(std::make_unique<StringSource>(actual), d, "test", {}, cancel);
  return ReadAllLimited(r, 1 << 20);
}
}  // namespace

TEST_CASE("verification passes good bytes and fails before the end otherwise", "[verify]") {
  const std::string good = "hello, blob";
  CHECK(*ReadThrough(good, Blob(good)) == good);
  CHECK(*ReadThrough("", Blob("")) == "");
  auto wrong = ReadThrough("hellO, blob", Blob(good));
  CHECK(wrong.status().code() == Code::kDigestInvalid);
  CHECK(wrong.status().message().find(DigestOf(good).str()) != std::string::npos);
  CHECK(ReadThrough("hello", Blob(good)).status().code() == Code::kSizeInvalid);
  CHECK(ReadThrough(good + "!", Blob(good)).status().code() == Code::kSizeInvalid);
  std::atomic<bool> cancel{true};
  CHECK_FALSE(ReadThrough(good, Blob(good), &cancel).ok());

  // The read that delivers the last byte already fails on a mismatch: a
  // consumer that stops at Content-Length bytes never sees success.
  Descriptor d = Blob(good);
  VerifyingReader r(std::make_unique<StringSource>("hellO, blob"), d, "test");
  char buf[64];
  CHECK_FALSE(r.Read(buf, sizeof buf).ok());
}
