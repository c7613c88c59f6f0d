#include "registry/gc.h"

#include <catch2/catch.hpp>

#include "registry/blob_store.h"
#include "registry/manifest_store.h"
#include "registry/storage/driver.h"
#include "registry/upload_store.h"

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
    std::string m =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
        cfg.str() +
        R"(","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
        lay.str() + R"(","size":1}]})";
    auto r = manifests.Put(repo, tag.empty() ? DigestOf(m).str() : tag, "", m, {});
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

namespace {

std::string IndexOf(const std::vector<Digest>& children) {
  std::string list;
  for (const Digest& c : children) {
    if (!list.empty()) list += ",";
    list += R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + c.str() +
            R"(","size":1,"platform":{"architecture":"amd64","os":"linux"}})";
  }
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
         list + "]}";
}

// An artifact manifest whose subject is `subject`.
std::string ReferrerOf(const Digest& subject, const Digest& cfg) {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("artifactType":"application/spdx+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":")" +
         cfg.str() +
         R"(","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
         subject.str() + R"(","size":1}})";
}

}  // namespace

TEST_CASE("gc --delete-untagged keeps what tags reach, through indexes and referrers", "[gc]") {
  Fixture f;
  Digest tagged = f.PushImage("app", "v1", "tagged-layer");
  Digest child_a = f.PushImage("app", "", "child-a");  // by digest: untagged until the index
  Digest child_b = f.PushImage("app", "", "child-b");
  auto index = f.manifests.Put("app", "multi", "", IndexOf({child_a, child_b}), {});
  REQUIRE(index.ok());
  Digest empty = f.AddBlob("app", "{}");
  auto sbom = f.manifests.Put("app", DigestOf(ReferrerOf(tagged, empty)).str(), "",
                              ReferrerOf(tagged, empty), {});
  REQUIRE(sbom.ok());
  Digest lonely = f.PushImage("app", "", "lonely-layer");
  auto lonely_sbom = f.manifests.Put("app", DigestOf(ReferrerOf(lonely, empty)).str(), "",
                                     ReferrerOf(lonely, empty), {});
  REQUIRE(lonely_sbom.ok());
  Digest lonely_layer = DigestOf(std::string("lonely-layer"));

  GcOptions opt;
  opt.min_age_sec = 0;
  opt.delete_untagged = true;
  auto rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->manifests_deleted == 2);  // the lonely image and its referrer
  CHECK(!f.manifests.Get("app", lonely.str()).ok());
  CHECK(!f.manifests.Get("app", lonely_sbom->digest.str()).ok());
  CHECK(!f.blobs.StatData(lonely_layer).ok());
  for (const Digest& kept : {tagged, child_a, child_b, index->digest, sbom->digest}) {
    INFO(kept.str());
    CHECK(f.manifests.Get("app", kept.str()).ok());
  }
  CHECK(f.blobs.StatData(DigestOf(std::string("child-b"))).ok());
  auto refs = f.manifests.Referrers("app", tagged, "");
  REQUIRE(refs.ok());
  CHECK(refs->find(sbom->digest.str()) != std::string::npos);

  // Without the option, untagged manifests stay.
  Digest again = f.PushImage("app", "", "again");
  opt.delete_untagged = false;
  rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->manifests_deleted == 0);
  CHECK(f.manifests.Get("app", again.str()).ok());
}

TEST_CASE("gc on a store that tracks uses keeps what requests use", "[gc]") {
  Fixture f;
  f.blobs.TrackUses();
  Digest headed = f.AddBlob("app", "a client HEADed me");
  Digest idle = f.AddBlob("app", "nobody looked");
  Digest untagged = f.PushImage("app", "", "untagged-in-use");
  GcOptions opt;
  opt.min_age_sec = 0;
  opt.delete_untagged = true;
  opt.use_grace_ms = 0;

  // Uses before the run began are old news with no grace...
  CHECK(f.blobs.Stat("app", headed).ok());
  auto rep = CollectGarbage(*f.d, f.blobs, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(!f.blobs.StatData(headed).ok());
  CHECK(!f.blobs.StatData(idle).ok());
  CHECK(!f.manifests.Get("app", untagged.str()).ok());

  // ...but a pin held across the run keeps a blob, and a manifest.
  Digest untagged2 = f.PushImage("app", "", "untagged-pinned");
  Digest pinned = f.AddBlob("app", "a manifest PUT holds me");
  {
    BlobStore::Use use(f.blobs);
    use.Add(pinned);
    use.Add(untagged2);
    rep = CollectGarbage(*f.d, f.blobs, opt, nullptr);
    REQUIRE(rep.ok());
    CHECK(rep->kept_in_use >= 2);
    CHECK(f.blobs.StatData(pinned).ok());
    CHECK(f.manifests.Get("app", untagged2.str()).ok());
    CHECK(f.blobs.StatData(DigestOf(std::string("untagged-pinned"))).ok());  // its layer
  }
  // With a grace period, a recent HEAD keeps a blob too.
  Digest recent = f.AddBlob("app", "HEADed a moment ago");
  CHECK(f.blobs.Stat("app", recent).ok());
  opt.use_grace_ms = 60000;
  rep = CollectGarbage(*f.d, f.blobs, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(f.blobs.StatData(recent).ok());
  opt.use_grace_ms = 0;
  rep = CollectGarbage(*f.d, f.blobs, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(!f.blobs.StatData(recent).ok());
}

TEST_CASE("gc keeps the blobs of a push in progress, however old", "[gc]") {
  Fixture f;
  Digest early = f.AddBlob("new/app", "a layer pushed long ago, manifest still to come");
  UploadStore uploads(*f.d, f.blobs);
  Result<std::string> session = uploads.Start("new/app", DigestAlgorithm::kSha256);
  REQUIRE(session.ok());  // the push goes on: another layer is being uploaded
  Digest elsewhere = f.AddBlob("idle/app", "nobody is pushing here");
  GcOptions opt;
  opt.min_age_sec = 0;
  opt.now_unix = 10;  // the session is not idle (the memory driver stamps files at time 0)
  auto rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(f.blobs.StatData(early).ok());
  CHECK(!f.blobs.StatData(elsewhere).ok());
  REQUIRE(uploads.Cancel("new/app", *session).ok());  // the push gave up
  rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(!f.blobs.StatData(early).ok());
}

TEST_CASE("gc --delete-untagged from another process keeps manifests younger than min_age",
          "[gc]") {
  Fixture f;
  Digest child = f.PushImage("app", "", "a child whose index is on its way");
  GcOptions opt;
  opt.delete_untagged = true;
  opt.min_age_sec = 3600;
  opt.now_unix = 10;  // the memory driver stamps files at time 0
  auto rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->manifests_deleted == 0);
  CHECK(f.manifests.Get("app", child.str()).ok());
  opt.now_unix = 7200;
  rep = CollectGarbage(*f.d, opt, nullptr);
  REQUIRE(rep.ok());
  CHECK(rep->manifests_deleted == 1);
}

TEST_CASE("HEADs of absent blobs leave no use behind", "[gc]") {
  Fixture f;
  f.blobs.TrackUses();
  for (int i = 0; i < 100; ++i) {
    CHECK(!f.blobs.Stat("app", DigestOf("made up " + std::to_string(i))).ok());
  }
  CHECK(f.blobs.uses_recorded() == 0);
  Digest real = f.AddBlob("app", "there");
  CHECK(f.blobs.Stat("app", real).ok());
  CHECK(f.blobs.uses_recorded() == 1);
}
