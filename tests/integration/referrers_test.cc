// Listing referrers (distribution-spec v1.1, "Listing Referrers", end-12a
// and end-12b): descriptors, artifactType, the filter, unknown subjects.
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using nlohmann::json;

constexpr const char* kSbomType = "application/vnd.example.sbom.v1";
constexpr const char* kSignatureConfigType = "application/vnd.example.signature.config.v1+json";

struct ReferrersFixture : RegistryFixture {
  ReferrersFixture() {
    subject = PushImage(cli, "app", "v1", 41);
    json subject_desc = DescriptorOf(kOciManifest, subject.manifest).ToJson();

    // An SBOM: artifactType set, empty config, annotations.
    std::string empty = "{}";
    PushBlob(cli, "app", empty);
    std::string sbom_layer = R"({"packages":[]})";
    PushBlob(cli, "app", sbom_layer);
    sbom = ImageManifest(DescriptorOf(kOciEmpty, empty),
                         {DescriptorOf("application/spdx+json", sbom_layer)},
                         json{{"artifactType", kSbomType},
                              {"subject", subject_desc},
                              {"annotations", {{"org.example.kind", "sbom"}}}});
    // A signature: no artifactType, so its config's media type stands in.
    std::string sig_config = R"({"signer":"test"})";
    PushBlob(cli, "app", sig_config);
    std::string sig_layer = TestBytes(64, 42);
    PushBlob(cli, "app", sig_layer);
    signature = ImageManifest(DescriptorOf(kSignatureConfigType, sig_config),
                              {DescriptorOf("application/octet-stream", sig_layer)},
                              json{{"subject", subject_desc}});
    for (const std::string* m : {&sbom, &signature}) {
      httplib::Response r = Reply(PutManifest(cli, "app", Sha256(*m), kOciManifest, *m));
      REQUIRE(r.status == 201);
      CHECK(r.get_header_value("OCI-Subject") == subject.digest);
    }
  }

  // GET referrers; REQUIREs a 200 OCI index and returns its manifests,
  // sorted by digest.
  json Referrers(const std::string& query, httplib::Response* out = nullptr) {
    httplib::Response r = Reply(cli.Get("/v2/app/referrers/" + subject.digest + query));
    INFO("referrers" << query << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    CHECK(r.get_header_value("Content-Type") == kOciIndex);
    json j = json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["schemaVersion"] == 2);
    CHECK(j["mediaType"] == kOciIndex);
    REQUIRE(j["manifests"].is_array());
    json list = j["manifests"];
    std::sort(list.begin(), list.end(),
              [](const json& a, const json& b) { return a["digest"] < b["digest"]; });
    if (out) *out = r;
    return list;
  }

  json SbomDescriptor() const {
    return {{"mediaType", kOciManifest},
            {"digest", Sha256(sbom)},
            {"size", sbom.size()},
            {"artifactType", kSbomType},
            {"annotations", {{"org.example.kind", "sbom"}}}};
  }
  json SignatureDescriptor() const {
    return {{"mediaType", kOciManifest},
            {"digest", Sha256(signature)},
            {"size", signature.size()},
            {"artifactType", kSignatureConfigType}};
  }

  PushedImage subject;
  std::string sbom;
  std::string signature;
};

TEST_CASE_METHOD(ReferrersFixture, "referrers lists every manifest with that subject",
                 "[integration][referrers]") {
  httplib::Response r;
  json list = Referrers("", &r);
  json want = json::array({SbomDescriptor(), SignatureDescriptor()});
  std::sort(want.begin(), want.end(),
            [](const json& a, const json& b) { return a["digest"] < b["digest"]; });
  CHECK(list == want);
  CHECK_FALSE(r.has_header("OCI-Filters-Applied"));
}

TEST_CASE_METHOD(ReferrersFixture, "the artifactType filter keeps matches and says so",
                 "[integration][referrers]") {
  httplib::Response r;
  json list = Referrers(std::string("?artifactType=") + kSbomType, &r);
  CHECK(list == json::array({SbomDescriptor()}));
  CHECK(r.get_header_value("OCI-Filters-Applied") == "artifactType");

  json none = Referrers("?artifactType=application/vnd.example.none", &r);
  CHECK(none == json::array());
  CHECK(r.get_header_value("OCI-Filters-Applied") == "artifactType");
}

TEST_CASE_METHOD(ReferrersFixture, "a deleted referrer is no longer listed",
                 "[integration][referrers]") {
  REQUIRE(Reply(cli.Delete("/v2/app/manifests/" + Sha256(sbom))).status == 202);
  CHECK(Referrers("") == json::array({SignatureDescriptor()}));
}

TEST_CASE_METHOD(RegistryFixture, "referrers of an unknown subject is an empty index",
                 "[integration][referrers]") {
  PushImage(cli, "app", "v1", 43);
  httplib::Response r = Reply(cli.Get("/v2/app/referrers/" + Sha256("unknown subject")));
  CHECK(r.status == 200);
  CHECK(r.get_header_value("Content-Type") == kOciIndex);
  json j = json::parse(r.body, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["manifests"] == json::array());
}

TEST_CASE_METHOD(RegistryFixture, "referrers with a malformed digest is 400",
                 "[integration][referrers]") {
  for (const char* bad : {"sha256:xyz", "latest", "sha256:ABCDEF"}) {
    INFO("digest " << bad);
    httplib::Response r = Reply(cli.Get(std::string("/v2/app/referrers/") + bad));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == std::vector<std::string>{"DIGEST_INVALID"});
  }
}

}  // namespace
}  // namespace hoist::itest
