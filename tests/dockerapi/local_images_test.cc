// The Engine API's view of the local store (builder/dockerapi/local_images.h):
// docker's look-ups (names, full and short IDs, digests), tags moving
// images to "<none>", rmi's rules, prune.
#include "builder/dockerapi/local_images.h"

#include <catch2/catch.hpp>

#include "common/media_types.h"
#include "tests/engine/helpers.h"

namespace hoist::dockerapi {
namespace {

using engine::test::TempDir;

// An image whose config says `created`; returns its manifest descriptor.
transfer::Descriptor MakeImage(store::ContentStore& s, const std::string& created) {
  Result<transfer::Descriptor> layer =
      engine::PutSmallBlob(s, std::string(media::kOciLayerGzip), "layer " + created);
  REQUIRE(layer.ok());
  Result<transfer::Descriptor> cfg = engine::PutSmallBlob(
      s, std::string(media::kOciConfig),
      R"({"os":"linux","architecture":"amd64","created":")" + created +
          R"(","config":{"Labels":{"k":"v"}},"rootfs":{"type":"layers","diff_ids":[]}})");
  REQUIRE(cfg.ok());
  std::string m = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(media::kOciManifest) +
                  "\",\"config\":{\"mediaType\":\"" + std::string(media::kOciConfig) +
                  "\",\"digest\":\"" + cfg->digest.str() +
                  "\",\"size\":" + std::to_string(cfg->size) + "},\"layers\":[{\"mediaType\":\"" +
                  std::string(media::kOciLayerGzip) + "\",\"digest\":\"" + layer->digest.str() +
                  "\",\"size\":" + std::to_string(layer->size) + "}]}";
  Result<transfer::Descriptor> d = engine::PutSmallBlob(s, std::string(media::kOciManifest), m);
  REQUIRE(d.ok());
  return *d;
}

Reference Ref(const std::string& s) {
  Result<Reference> r = Reference::Parse(s);
  REQUIRE(r.ok());
  return *r;
}

struct Fixture {
  TempDir t;
  std::unique_ptr<store::ContentStore> store = std::move(*store::ContentStore::OpenRoot(t.path()));
  LocalImages images{*store, *transfer::Platform::Parse("linux/amd64")};
  transfer::Descriptor MakeImageFor(const std::string& created) {
    return MakeImage(*store, created);
  }
};

TEST_CASE("local images: found by name, full ID, short ID and digest", "[engine]") {
  Fixture f;
  transfer::Descriptor a = f.MakeImageFor("2024-01-02T03:04:05Z");
  REQUIRE(f.images.Tag(Ref("app:1"), a).ok());
  Result<LocalImage> by_name = f.images.Find("app:1");
  REQUIRE(by_name.ok());
  CHECK(by_name->created == 1704164645);
  CHECK(by_name->names == std::vector<std::string>{"docker.io/library/app:1"});
  CHECK(f.images.Find("docker.io/library/app:1").ok());
  CHECK(f.images.Find(by_name->id.str())->top.digest == a.digest);
  CHECK(f.images.Find(by_name->id.hex())->top.digest == a.digest);
  CHECK(f.images.Find(by_name->ShortId())->top.digest == a.digest);
  CHECK(f.images.Find("app@" + a.digest.str())->top.digest == a.digest);
  CHECK(f.images.Find(a.digest.str())->top.digest == a.digest);
  // "app" means app:latest, which does not exist.
  Result<LocalImage> latest = f.images.Find("app");
  CHECK(latest.status().code() == Code::kNotFound);
  CHECK(latest.status().message() == "No such image: app");
  CHECK(f.images.Find("0000").status().code() == Code::kNotFound);
}

TEST_CASE("local images: a moved tag leaves the old image untagged", "[engine]") {
  Fixture f;
  transfer::Descriptor a = f.MakeImageFor("2024-01-01T00:00:00Z");
  transfer::Descriptor b = f.MakeImageFor("2024-02-01T00:00:00Z");
  REQUIRE(f.images.Tag(Ref("app:1"), a).ok());
  REQUIRE(f.images.Tag(Ref("app:1"), b).ok());
  Result<std::vector<LocalImage>> all = f.images.List();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  int untagged = 0;
  for (const LocalImage& i : *all) untagged += i.names.empty() ? 1 : 0;
  CHECK(untagged == 1);
  CHECK(f.images.Find("app:1")->top.digest == b.digest);
  // Prune removes the untagged one only.
  Result<std::vector<std::string>> pruned = f.images.PruneUntagged(false);
  REQUIRE(pruned.ok());
  CHECK(pruned->size() == 1);
  CHECK(f.images.List()->size() == 1);
  // A name that still points at an image keeps it out of "untagged".
  REQUIRE(f.images.KeepUntagged(b).ok());
  CHECK(f.images.List()->front().names.size() == 1);
}

TEST_CASE("local images: rmi untags, deletes with the last name, needs force across repos",
          "[engine]") {
  Fixture f;
  transfer::Descriptor a = f.MakeImageFor("2024-01-01T00:00:00Z");
  REQUIRE(f.images.Tag(Ref("app:1"), a).ok());
  REQUIRE(f.images.Tag(Ref("app:2"), a).ok());
  REQUIRE(f.images.Tag(Ref("other/app:1"), a).ok());
  REQUIRE(f.images.AddRepoDigest(a, Ref("localhost:5000/app:1")).ok());
  CHECK(f.images.Find("app:1")->repo_digests ==
        std::vector<std::string>{"localhost:5000/app@" + a.digest.str()});
  std::string id = f.images.Find("app:1")->id.str();

  Result<std::vector<DeleteEvent>> one = f.images.Remove("app:2", false);
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  CHECK_FALSE((*one)[0].deleted);
  CHECK((*one)[0].what == "app:2");

  // By ID, two repositories hold it: docker's conflict unless forced.
  Result<std::vector<DeleteEvent>> conflict = f.images.Remove(id, false);
  CHECK(conflict.status().code() == Code::kConflict);
  CHECK(f.images.Find("app:1").ok());

  Result<std::vector<DeleteEvent>> forced = f.images.Remove(id, true);
  REQUIRE(forced.ok());
  CHECK(forced->back().deleted);
  CHECK(forced->back().what == id);
  CHECK(f.images.List()->empty());
  CHECK(f.images.Remove("app:1", false).status().code() == Code::kNotFound);
}

TEST_CASE("local images: an index stands for its platform's image", "[engine]") {
  Fixture f;
  transfer::Descriptor amd = f.MakeImageFor("2024-01-01T00:00:00Z");
  transfer::Descriptor arm = f.MakeImageFor("2024-03-01T00:00:00Z");
  std::string idx = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(media::kOciIndex) +
                    "\",\"manifests\":[";
  for (const auto& [d, arch] : {std::pair{arm, "arm64"}, std::pair{amd, "amd64"}}) {
    if (arch == std::string("amd64")) idx += ",";
    idx += "{\"mediaType\":\"" + d.media_type + "\",\"digest\":\"" + d.digest.str() +
           "\",\"size\":" + std::to_string(d.size) + ",\"platform\":{\"os\":\"linux\"," +
           "\"architecture\":\"" + arch + "\"}}";
  }
  idx += "]}";
  Result<transfer::Descriptor> index =
      engine::PutSmallBlob(*f.store, std::string(media::kOciIndex), idx);
  REQUIRE(index.ok());
  REQUIRE(f.images.Tag(Ref("multi:1"), *index).ok());
  Result<LocalImage> img = f.images.Find("multi:1");
  REQUIRE(img.ok());
  CHECK(img->top.digest == index->digest);
  CHECK(img->manifest.digest == amd.digest);
  CHECK(img->created == 1704067200);
}

}  // namespace
}  // namespace hoist::dockerapi
