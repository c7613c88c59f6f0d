#include "registry/manifest_store.h"

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/media_types.h"
#include "registry/blob_store.h"
#include "registry/storage/driver.h"

namespace hoist::registry {
namespace {

using json = nlohmann::json;
using Tags = std::vector<std::string>;

constexpr std::string_view kRepo = "library/app";

json Descriptor(std::string_view media_type, const std::string& content) {
  return {{"mediaType", media_type}, {"digest", DigestOf(content).str()}, {"size", content.size()}};
}

struct Fixture {
  std::unique_ptr<storage::StorageDriver> driver = storage::NewMemoryDriver();
  BlobStore blobs{*driver};
  ManifestStore manifests{*driver, blobs};

  // Stores `content` as a blob and links it into `repo`.
  Digest LinkBlob(std::string_view repo, const std::string& content) {
    Digest d = DigestOf(content);
    REQUIRE(blobs.PutSmall(d, content).ok());
    REQUIRE(blobs.Link(repo, d).ok());
    return d;
  }

  // An OCI image manifest whose config and layer are linked into `repo`.
  std::string Image(std::string_view repo, const std::string& seed) {
    std::string config = R"({"architecture":"amd64","os":"linux","seed":")" + seed + "\"}";
    std::string layer = "layer bytes of " + seed;
    LinkBlob(repo, config);
    LinkBlob(repo, layer);
    return json{{"schemaVersion", 2},
                {"mediaType", media::kOciManifest},
                {"config", Descriptor(media::kOciConfig, config)},
                {"layers", json::array({Descriptor(media::kOciLayerGzip, layer)})}}
        .dump();
  }

  Result<PutManifestResult> Put(std::string_view reference, const std::string& content,
                                std::string_view content_type = media::kOciManifest,
                                const Tags& extra = {}, std::string_view repo = kRepo) {
    return manifests.Put(repo, reference, content_type, content, extra);
  }

  Digest PutByTag(std::string_view tag, const std::string& content, std::string_view repo = kRepo) {
    Result<PutManifestResult> r = Put(tag, content, media::kOciManifest, {}, repo);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return r->digest;
  }

  Tags TagsOf(std::string_view repo = kRepo) {
    Result<Tags> t = manifests.Tags(repo);
    REQUIRE(t.ok());
    return *t;
  }
};

Code PutCode(Fixture& f, std::string_view ref, const std::string& content,
             std::string_view content_type = media::kOciManifest) {
  return f.Put(ref, content, content_type).status().code();
}

TEST_CASE("ManifestStore: an image manifest put by tag is served by tag and by digest",
          "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  Result<PutManifestResult> put = f.Put("v1", m);
  REQUIRE(put.ok());
  CHECK(put->digest == DigestOf(m));
  CHECK(put->tags == Tags{"v1"});
  CHECK_FALSE(put->subject.has_value());

  for (std::string ref : {std::string("v1"), DigestOf(m).str()}) {
    INFO(ref);
    Result<StoredManifest> got = f.manifests.Get(kRepo, ref);
    REQUIRE(got.ok());
    CHECK(got->content == m);
    CHECK(got->media_type == media::kOciManifest);
    CHECK(got->digest == DigestOf(m));
  }
}

TEST_CASE("ManifestStore: unknown references are kManifestUnknown", "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  f.PutByTag("v1", m);
  CHECK(f.manifests.Get(kRepo, "v2").status().code() == Code::kManifestUnknown);
  CHECK(f.manifests.Get(kRepo, DigestOf("nope").str()).status().code() == Code::kManifestUnknown);
  // Stored bytes are not visible from a repository they were not pushed to.
  CHECK(f.manifests.Get("other", DigestOf(m).str()).status().code() == Code::kManifestUnknown);
  CHECK(f.manifests.Get("other", "v1").status().code() == Code::kManifestUnknown);
}

TEST_CASE("ManifestStore: blobs the manifest references must be linked first", "[manifest]") {
  Fixture f;
  std::string config = "{}";
  f.LinkBlob(kRepo, config);
  json m = {{"schemaVersion", 2},
            {"mediaType", media::kOciManifest},
            {"config", Descriptor(media::kOciConfig, config)},
            {"layers", json::array({Descriptor(media::kOciLayerGzip, "missing layer")})}};
  Result<PutManifestResult> r = f.Put("v1", m.dump());
  CHECK(r.status().code() == Code::kManifestBlobUnknown);
  CHECK(r.status().detail().find(DigestOf("missing layer").str()) != std::string::npos);

  SECTION("a layer linked only into another repository does not count") {
    f.LinkBlob("other", "missing layer");
    CHECK(PutCode(f, "v1", m.dump()) == Code::kManifestBlobUnknown);
  }
  SECTION("a missing config blob is reported too") {
    json no_config = m;
    no_config["config"] = Descriptor(media::kOciConfig, "absent config");
    no_config["layers"] = json::array();
    CHECK(PutCode(f, "v1", no_config.dump()) == Code::kManifestBlobUnknown);
  }
  SECTION("non-distributable layers with urls need not be present") {
    json foreign = m;
    foreign["layers"][0]["urls"] = json::array({"https://example.com/layer"});
    CHECK(f.Put("v1", foreign.dump()).ok());
  }
  SECTION("linking the layer makes the put succeed") {
    f.LinkBlob(kRepo, "missing layer");
    CHECK(f.Put("v1", m.dump()).ok());
  }
}

TEST_CASE("ManifestStore: invalid manifests are kManifestInvalid and store nothing", "[manifest]") {
  Fixture f;
  std::string good = f.Image(kRepo, "1");
  json j = json::parse(good);

  CHECK(PutCode(f, "v1", "{not json") == Code::kManifestInvalid);
  CHECK(PutCode(f, "v1", "[]") == Code::kManifestInvalid);

  json v1 = j;
  v1["schemaVersion"] = 1;
  CHECK(PutCode(f, "v1", v1.dump()) == Code::kManifestInvalid);
  json no_version = j;
  no_version.erase("schemaVersion");
  CHECK(PutCode(f, "v1", no_version.dump()) == Code::kManifestInvalid);

  json unknown_type = j;
  unknown_type["mediaType"] = "application/vnd.example.thing+json";
  CHECK(PutCode(f, "v1", unknown_type.dump(), "") == Code::kManifestInvalid);

  CHECK(PutCode(f, "v1", good, media::kDockerManifest) == Code::kManifestInvalid);
  CHECK(PutCode(f, "v1", good, media::kOciIndex) == Code::kManifestInvalid);

  json bad_descriptor = j;
  bad_descriptor["layers"][0].erase("size");
  CHECK(PutCode(f, "v1", bad_descriptor.dump()) == Code::kManifestInvalid);

  CHECK(PutCode(f, "-bad-tag", good) == Code::kManifestInvalid);
  CHECK(f.manifests.Tags(kRepo).status().code() == Code::kNameUnknown);
  CHECK(f.manifests.Get(kRepo, DigestOf(good).str()).status().code() == Code::kManifestUnknown);
}

TEST_CASE("ManifestStore: Content-Type parameters and generic JSON types are accepted",
          "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  CHECK(f.Put("a", m, std::string(media::kOciManifest) + "; charset=utf-8").ok());
  CHECK(f.Put("b", m, "application/json").ok());
  CHECK(f.Put("c", m, "").ok());
}

TEST_CASE("ManifestStore: a manifest without mediaType takes its type from its shape",
          "[manifest]") {
  Fixture f;
  json j = json::parse(f.Image(kRepo, "1"));
  j.erase("mediaType");
  std::string m = j.dump();
  REQUIRE(f.Put("v1", m, "").ok());
  CHECK(f.manifests.Get(kRepo, "v1").value().media_type == media::kOciManifest);
}

TEST_CASE("ManifestStore: PUT by digest checks the digest", "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  CHECK(PutCode(f, DigestOf("something else").str(), m) == Code::kDigestInvalid);
  CHECK(f.manifests.Get(kRepo, DigestOf(m).str()).status().code() == Code::kManifestUnknown);

  Result<PutManifestResult> ok = f.Put(DigestOf(m).str(), m);
  REQUIRE(ok.ok());
  CHECK(ok->digest == DigestOf(m));
  CHECK(ok->tags.empty());
  CHECK(f.manifests.Get(kRepo, DigestOf(m).str()).value().content == m);
}

TEST_CASE("ManifestStore: PUT by sha512 digest is served by that digest", "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  Digest d = DigestOf(m, DigestAlgorithm::kSha512);
  Result<PutManifestResult> r = f.Put(d.str(), m);
  REQUIRE(r.ok());
  CHECK(r->digest == d);
  Result<StoredManifest> got = f.manifests.Get(kRepo, d.str());
  REQUIRE(got.ok());
  CHECK(got->content == m);
}

TEST_CASE("ManifestStore: PUT by digest with extra tags tags all of them", "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  Result<PutManifestResult> r = f.Put(DigestOf(m).str(), m, media::kOciManifest, {"x", "y"});
  REQUIRE(r.ok());
  CHECK(r->tags == Tags{"x", "y"});
  CHECK(f.TagsOf() == Tags{"x", "y"});
  CHECK(f.manifests.Get(kRepo, "x").value().digest == DigestOf(m));
  CHECK(f.manifests.Get(kRepo, "y").value().digest == DigestOf(m));

  CHECK(f.Put(DigestOf(m).str(), m, media::kOciManifest, {"ok", "bad/tag"}).status().code() ==
        Code::kManifestInvalid);
}

TEST_CASE("ManifestStore: an index needs its child manifests in the repository", "[manifest]") {
  Fixture f;
  std::string child = f.Image(kRepo, "amd64");
  json index = {{"schemaVersion", 2},
                {"mediaType", media::kOciIndex},
                {"manifests", json::array({Descriptor(media::kOciManifest, child)})}};
  Result<PutManifestResult> r = f.Put("multi", index.dump(), media::kOciIndex);
  CHECK(r.status().code() == Code::kManifestBlobUnknown);

  // The same child pushed to another repository does not help.
  std::string elsewhere = f.Image("other", "amd64");
  REQUIRE(elsewhere == child);
  f.PutByTag("x", child, "other");
  CHECK(PutCode(f, "multi", index.dump(), media::kOciIndex) == Code::kManifestBlobUnknown);

  REQUIRE(f.Put(DigestOf(child).str(), child).ok());
  Result<PutManifestResult> ok = f.Put("multi", index.dump(), media::kOciIndex);
  REQUIRE(ok.ok());
  CHECK(f.manifests.Get(kRepo, "multi").value().media_type == media::kOciIndex);
}

TEST_CASE("ManifestStore: an index must not carry config or layers", "[manifest]") {
  Fixture f;
  std::string child = f.Image(kRepo, "1");
  f.PutByTag("child", child);
  json index = {{"schemaVersion", 2},
                {"mediaType", media::kOciIndex},
                {"manifests", json::array({Descriptor(media::kOciManifest, child)})},
                {"layers", json::array()}};
  CHECK(PutCode(f, "i", index.dump(), media::kOciIndex) == Code::kManifestInvalid);
}

TEST_CASE("ManifestStore: Docker schema2 manifests and manifest lists are accepted", "[manifest]") {
  Fixture f;
  std::string config = R"({"architecture":"arm64","os":"linux"})";
  std::string layer = "docker layer";
  f.LinkBlob(kRepo, config);
  f.LinkBlob(kRepo, layer);
  std::string m = json{{"schemaVersion", 2},
                       {"mediaType", media::kDockerManifest},
                       {"config", Descriptor(media::kDockerConfig, config)},
                       {"layers", json::array({Descriptor(media::kDockerLayerGzip, layer)})}}
                      .dump();
  REQUIRE(f.Put("docker", m, media::kDockerManifest).ok());
  CHECK(f.manifests.Get(kRepo, "docker").value().media_type == media::kDockerManifest);

  json entry = Descriptor(media::kDockerManifest, m);
  entry["platform"] = {{"architecture", "arm64"}, {"os", "linux"}};
  std::string list = json{{"schemaVersion", 2},
                          {"mediaType", media::kDockerManifestList},
                          {"manifests", json::array({entry})}}
                         .dump();
  REQUIRE(f.Put("list", list, media::kDockerManifestList).ok());
  Result<StoredManifest> got = f.manifests.Get(kRepo, "list");
  REQUIRE(got.ok());
  CHECK(got->media_type == media::kDockerManifestList);
  CHECK(got->content == list);

  json no_layers = json::parse(m);
  no_layers.erase("layers");
  CHECK(PutCode(f, "bad", no_layers.dump(), media::kDockerManifest) == Code::kManifestInvalid);
}

TEST_CASE("ManifestStore: Tags are sorted", "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  for (const char* t : {"v2", "latest", "V1", "a", "v10"}) f.PutByTag(t, m);
  CHECK(f.TagsOf() == Tags{"V1", "a", "latest", "v10", "v2"});
}

TEST_CASE("ManifestStore: Tags of an unknown repository is kNameUnknown", "[manifest]") {
  Fixture f;
  CHECK(f.manifests.Tags("nobody/home").status().code() == Code::kNameUnknown);
  // Blobs alone do not make a repository known to the tags list.
  f.LinkBlob("blobs/only", "x");
  CHECK(f.manifests.Tags("blobs/only").status().code() == Code::kNameUnknown);
}

TEST_CASE("ManifestStore: retagging moves the tag to the new manifest", "[manifest]") {
  Fixture f;
  std::string m1 = f.Image(kRepo, "1");
  std::string m2 = f.Image(kRepo, "2");
  f.PutByTag("latest", m1);
  f.PutByTag("latest", m2);
  CHECK(f.manifests.Get(kRepo, "latest").value().digest == DigestOf(m2));
  CHECK(f.manifests.Get(kRepo, DigestOf(m1).str()).ok());
  CHECK(f.TagsOf() == Tags{"latest"});
}

TEST_CASE("ManifestStore: Delete by tag removes only the tag", "[manifest]") {
  Fixture f;
  std::string m = f.Image(kRepo, "1");
  f.PutByTag("v1", m);
  f.PutByTag("v2", m);
  REQUIRE(f.manifests.Delete(kRepo, "v1").ok());
  CHECK(f.manifests.Get(kRepo, "v1").status().code() == Code::kManifestUnknown);
  CHECK(f.manifests.Get(kRepo, "v2").ok());
  CHECK(f.manifests.Get(kRepo, DigestOf(m).str()).ok());
  CHECK(f.TagsOf() == Tags{"v2"});
  CHECK(f.manifests.Delete(kRepo, "v1").code() == Code::kManifestUnknown);
}

TEST_CASE("ManifestStore: Delete by digest removes the manifest and its tags", "[manifest]") {
  Fixture f;
  std::string m1 = f.Image(kRepo, "1");
  std::string m2 = f.Image(kRepo, "2");
  f.PutByTag("a", m1);
  f.PutByTag("b", m1);
  f.PutByTag("c", m2);
  REQUIRE(f.manifests.Delete(kRepo, DigestOf(m1).str()).ok());
  CHECK(f.manifests.Get(kRepo, DigestOf(m1).str()).status().code() == Code::kManifestUnknown);
  CHECK(f.manifests.Get(kRepo, "a").status().code() == Code::kManifestUnknown);
  CHECK(f.TagsOf() == Tags{"c"});
  CHECK(f.manifests.Get(kRepo, "c").value().digest == DigestOf(m2));
  CHECK(f.manifests.Delete(kRepo, DigestOf(m1).str()).code() == Code::kManifestUnknown);
}

TEST_CASE("ManifestStore: referrers list manifests whose subject is the image", "[manifest]") {
  Fixture f;
  std::string image = f.Image(kRepo, "1");
  Digest image_digest = f.PutByTag("v1", image);
  json subject = Descriptor(media::kOciManifest, image);

  std::string empty = "{}";
  f.LinkBlob(kRepo, empty);
  std::string sbom_blob = "sbom contents";
  f.LinkBlob(kRepo, sbom_blob);
  std::string sbom = json{{"schemaVersion", 2},
                          {"mediaType", media::kOciManifest},
                          {"artifactType", "application/vnd.example.sbom"},
                          {"config", Descriptor(media::kOciEmpty, empty)},
                          {"layers", json::array({Descriptor("application/spdx+json", sbom_blob)})},
                          {"subject", subject},
                          {"annotations", {{"org.example.kind", "sbom"}}}}
                         .dump();
  std::string sig_config = R"({"signed":true})";
  f.LinkBlob(kRepo, sig_config);
  std::string sig = json{
      {"schemaVersion", 2},
      {"mediaType", media::kOciManifest},
      {"config", Descriptor("application/vnd.example.sig.config", sig_config)},
      {"layers", json::array()},
      {"subject",
       subject}}.dump();

  Result<PutManifestResult> put_sbom = f.Put(DigestOf(sbom).str(), sbom);
  REQUIRE(put_sbom.ok());
  REQUIRE(put_sbom->subject.has_value());
  CHECK(*put_sbom->subject == image_digest);
  REQUIRE(f.Put(DigestOf(sig).str(), sig).ok());

  auto referrers = [&](std::string_view filter) {
    Result<std::string> r = f.manifests.Referrers(kRepo, image_digest, filter);
    REQUIRE(r.ok());
    json list = json::parse(*r);
    REQUIRE(list.is_array());
    return list;
  };

  json all = referrers("");
  REQUIRE(all.size() == 2);
  json by_type;
  for (const json& d : all) by_type[d["artifactType"].get<std::string>()] = d;
  REQUIRE(by_type.contains("application/vnd.example.sbom"));
  REQUIRE(by_type.contains("application/vnd.example.sig.config"));
  const json& s = by_type["application/vnd.example.sbom"];
  CHECK(s["digest"] == DigestOf(sbom).str());
  CHECK(s["size"] == sbom.size());
  CHECK(s["mediaType"] == media::kOciManifest);
  CHECK(s["annotations"] == json{{"org.example.kind", "sbom"}});
  const json& g = by_type["application/vnd.example.sig.config"];
  CHECK(g["digest"] == DigestOf(sig).str());
  CHECK_FALSE(g.contains("annotations"));

  json filtered = referrers("application/vnd.example.sbom");
  REQUIRE(filtered.size() == 1);
  CHECK(filtered[0]["digest"] == DigestOf(sbom).str());
  CHECK(referrers("application/vnd.example.none").empty());

  REQUIRE(f.manifests.Delete(kRepo, DigestOf(sbom).str()).ok());
  json after = referrers("");
  REQUIRE(after.size() == 1);
  CHECK(after[0]["digest"] == DigestOf(sig).str());
}

TEST_CASE("ManifestStore: referrers of a digest without any is an empty list", "[manifest]") {
  Fixture f;
  Result<std::string> r = f.manifests.Referrers(kRepo, DigestOf("nothing"), "");
  REQUIRE(r.ok());
  CHECK(json::parse(*r) == json::array());
}

TEST_CASE("ManifestStore: Repositories lists nested names sorted", "[manifest]") {
  Fixture f;
  for (std::string repo : {"zeta", "a/nested/deep", "a", "mid/x"}) {
    f.PutByTag("latest", f.Image(repo, repo), repo);
  }
  f.LinkBlob("blobs/only", "x");  // no manifests: not a repository yet
  Result<std::vector<std::string>> repos = f.manifests.Repositories();
  REQUIRE(repos.ok());
  CHECK(*repos == std::vector<std::string>{"a", "a/nested/deep", "mid/x", "zeta"});
}

TEST_CASE("ManifestStore: Repositories of an empty registry is empty", "[manifest]") {
  Fixture f;
  Result<std::vector<std::string>> repos = f.manifests.Repositories();
  REQUIRE(repos.ok());
  CHECK(repos->empty());
}

TEST_CASE("ManifestStore::MediaTypeOf reads or infers the media type", "[manifest]") {
  CHECK(ManifestStore::MediaTypeOf(R"({"mediaType":"x/y","config":{}})") == "x/y");
  CHECK(ManifestStore::MediaTypeOf(R"({"schemaVersion":2,"manifests":[]})") == media::kOciIndex);
  CHECK(ManifestStore::MediaTypeOf(R"({"schemaVersion":2,"config":{},"layers":[]})") ==
        media::kOciManifest);
  CHECK(ManifestStore::MediaTypeOf(R"({"schemaVersion":2})").empty());
  CHECK(ManifestStore::MediaTypeOf("not json").empty());
  CHECK(ManifestStore::MediaTypeOf("[1,2]").empty());
}

}  // namespace
}  // namespace hoist::registry

namespace hoist::registry {
namespace {

TEST_CASE("an index's children must exist unless the index policy says otherwise",
          "[manifest][sparse]") {
  Fixture f;
  std::string amd64 = f.Image(kRepo, "amd64");
  std::string arm64 = f.Image(kRepo, "arm64");
  auto child = [](const std::string& m, const char* arch) {
    json d = Descriptor(media::kOciManifest, m);
    d["platform"] = {{"os", "linux"}, {"architecture", arch}};
    return d;
  };
  std::string index =
      json{{"schemaVersion", 2},
           {"mediaType", media::kOciIndex},
           {"manifests", json::array({child(amd64, "amd64"), child(arm64, "arm64")})}}
          .dump();
  f.PutByTag("amd64", amd64);  // only amd64 is in the repository

  auto put = [&] { return f.Put("multi", index, media::kOciIndex); };
  REQUIRE(put().status().code() == Code::kManifestBlobUnknown);  // the spec's default

  f.manifests.SetReferencePolicy({ReferencePolicy::Children::kNone, {}, true});
  CHECK(put().ok());

  f.manifests.SetReferencePolicy({ReferencePolicy::Children::kListed, {{"linux", "amd64"}}, true});
  CHECK(put().ok());  // arm64 is not listed, amd64 is there
  f.manifests.SetReferencePolicy({ReferencePolicy::Children::kListed, {{"linux", "arm64"}}, true});
  CHECK(put().status().code() == Code::kManifestBlobUnknown);
}

TEST_CASE("an image manifest's blobs must exist unless sparse manifests are allowed",
          "[manifest][sparse]") {
  Fixture f;
  std::string missing = "never pushed";
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  f.LinkBlob(kRepo, config);
  std::string image = json{{"schemaVersion", 2},
                           {"mediaType", media::kOciManifest},
                           {"config", Descriptor(media::kOciConfig, config)},
                           {"layers", json::array({Descriptor(media::kOciLayerGzip, missing)})}}
                          .dump();
  CHECK(f.Put("sparse", image).status().code() == Code::kManifestBlobUnknown);
  f.manifests.SetReferencePolicy({ReferencePolicy::Children::kNone, {}, true});
  CHECK(f.Put("sparse", image).status().code() == Code::kManifestBlobUnknown);  // indexes only
  f.manifests.SetReferencePolicy({ReferencePolicy::Children::kAll, {}, false});
  CHECK(f.Put("sparse", image).ok());
  CHECK(f.manifests.Get(kRepo, "sparse").ok());
}

}  // namespace
}  // namespace hoist::registry
