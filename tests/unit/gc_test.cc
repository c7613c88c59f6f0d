#include <catch2/catch.hpp>

#include "registry/blob_store.h"
#include "registry/gc.h"
#include "registry/manifest_store.h"
#include "registry/storage/driver.h"

using namespace hoist;
using namespace hoist::registry;

namespace {

struct Fixture {
  std::unique_ptr<storage::StorageDriver> d = storage::NewMemoryDriver();
  BlobStore blobs{*d};
  ManifestStore manifests{*d, blobs};

  Digest AddBlob(const std::string& repo, const std::string& content) {
    Digest dg = DigestOf(content);
    REQUIRE(blobs.PutSmall(dg, content).ok());
    REQUIRE(blobs.Link(repo, dg).ok());
    return dg;
  }
  Digest PushImage(const std::string& repo, const std::string& tag, const std::string& layer) {
    Digest cfg = AddBlob(repo, "{\"cfg\":\"" + layer + "\"}");
    Digest lay = AddBlob(repo, layer);
    std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                    cfg.str() + R"(","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
                    lay.str() + R"(","size":1}]})";
    auto r = manifests.Put(repo, tag, "", m, {});
    REQUIRE(r.ok());
    return r->digest;
  }
};

}  // namespace

TEST_CASE("gc deletes only blobs that no manifest references", "[gc]") {
  Fixture f;
  Digest image = f.PushImage("app", "v1", "layer-one");
  Digest orphan = f.AddBlob("app", "nobody points at me");
  GcOptions opt;
  opt.min_age_sec = 0;
  std::vector<std::string> gone;
  auto rep = CollectGarbage(*f.d, opt, [&](const std::string& p) { gone.push_back(p); });
  REQUIRE(rep.ok());
  CHECK(rep->blobs_deleted == 1);
  CHECK(gone.size() == 1);
  CHECK(!f.blobs.StatData(orphan).ok());
  CHECK(f.manifests.Get("app", "v1").ok());
  CHECK(f.blobs.StatData(image).ok());
  CHECK(rep->manifests == 1);
  CHECK(rep->blobs_marked == 3);
}

TEST_CASE("gc dry run reports but deletes nothing", "[gc]") {
  Fixture f;
  f.PushImage("app", "v1", "layer-one");
  Digest orphan = f.AddBlob("other", "orphan");
  GcOptions opt;
  opt.min_age_sec = 0;
  opt.dry_run = true;
  auto rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->blobs_deleted == 1);
  CHECK(f.blobs.StatData(orphan).ok());
}

TEST_CASE("gc keeps unreferenced blobs younger than min_age", "[gc]") {
  Fixture f;
  Digest orphan = f.AddBlob("app", "pushed a moment ago");
  GcOptions opt;
  opt.min_age_sec = 3600;
  opt.now_unix = 10;  // the memory driver stamps files at time 0
  auto rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->blobs_deleted == 0);
  CHECK(rep->blobs_kept_young == 1);
  CHECK(f.blobs.StatData(orphan).ok());
}

TEST_CASE("gc keeps blobs of a deleted tag's manifest while the manifest exists", "[gc]") {
  Fixture f;
  Digest image = f.PushImage("app", "v1", "layer-x");
  REQUIRE(f.manifests.Delete("app", "v1").ok());  // tag only
  GcOptions opt;
  opt.min_age_sec = 0;
  auto rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->blobs_deleted == 0);
  REQUIRE(f.manifests.Delete("app", image.str()).ok());
  rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->blobs_deleted == 3);  // manifest bytes, config, layer
}
