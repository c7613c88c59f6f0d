// The step cache: keys, records, hits only while blobs exist, LRU pruning
// that keeps what local images use.
#include "builder/engine/cache.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <ctime>

#include "builder/engine/image_store.h"
#include "builder/engine/paths.h"
#include "builder/transfer/verify.h"
#include "common/media_types.h"
#include "tests/engine/helpers.h"

namespace hoist::engine {
namespace {

using test::TempDir;

Digest PutBlob(store::ContentStore& s, const std::string& content) {
  StringSource src(content);
  Result<Digest> d = s.Put(src);
  REQUIRE(d.ok());
  return *d;
}

CacheRecord StepRecord(const std::string& name, const Digest& blob, int64_t size) {
  CacheRecord r;
  r.key = CacheKeyBuilder("test").Add("name", name).Finish();
  r.description = name;
  r.layer = LayerRef{std::string(media::kOciLayerGzip), blob, size, DigestOf("diff-" + name)};
  r.blobs = {blob};
  return r;
}

void SetMtime(const std::string& path, int64_t t) {
  struct timespec ts[2] = {{t, 0}, {t, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, 0) == 0);
}

// A store in a temp dir and a cache over it.
struct Fixture {
  TempDir t;
  std::unique_ptr<store::ContentStore> store;
  std::unique_ptr<BuildCache> cache;
  Fixture() {
    auto s = store::ContentStore::OpenRoot(t / "store");
    REQUIRE(s.ok());
    store = std::move(*s);
    cache = std::make_unique<BuildCache>(*store);
  }
};

TEST_CASE("cache keys: field boundaries and order matter", "[cache]") {
  Digest a = CacheKeyBuilder("copy").Add("x", "ab").Add("y", "c").Finish();
  Digest b = CacheKeyBuilder("copy").Add("x", "a").Add("y", "bc").Finish();
  Digest c = CacheKeyBuilder("copy").Add("y", "c").Add("x", "ab").Finish();
  Digest d = CacheKeyBuilder("add").Add("x", "ab").Add("y", "c").Finish();
  CHECK(!(a == b));
  CHECK(!(a == c));
  CHECK(!(a == d));
  CHECK(a == CacheKeyBuilder("copy").Add("x", "ab").Add("y", "c").Finish());
}

TEST_CASE("cache records: put, hit, miss once a blob is gone", "[cache]") {
  Fixture f;
  store::ContentStore& st = *f.store;
  BuildCache& cache = *f.cache;
  Digest blob = PutBlob(st, "layer bytes");
  CacheRecord r = StepRecord("COPY a /a", blob, 11);
  CHECK(!cache.Lookup(r.key));
  REQUIRE(cache.Put(r).ok());
  std::optional<CacheRecord> hit = cache.Lookup(r.key);
  REQUIRE(hit);
  CHECK(hit->layer == r.layer);
  CHECK(hit->description == "COPY a /a");

  CacheRecord empty;  // a step that made no layer
  empty.key = CacheKeyBuilder("test").Add("name", "WORKDIR /").Finish();
  REQUIRE(cache.Put(empty).ok());
  std::optional<CacheRecord> e = cache.Lookup(empty.key);
  REQUIRE(e);
  CHECK(!e->layer);

  REQUIRE(st.Delete(blob).ok());
  CHECK(!cache.Lookup(r.key));
}

TEST_CASE("cache records: putting the same record again only touches it", "[cache]") {
  Fixture f;
  store::ContentStore& st = *f.store;
  BuildCache& cache = *f.cache;
  CacheRecord r = StepRecord("COPY a /a", PutBlob(st, "layer bytes"), 11);
  REQUIRE(cache.Put(r).ok());
  const std::string path = paths::CacheRecord(st.root(), r.key);
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  SetMtime(path, now - 1000);
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);

  REQUIRE(cache.Put(r).ok());
  struct stat same {};
  REQUIRE(::stat(path.c_str(), &same) == 0);
  CHECK(same.st_ino == before.st_ino);  // not written again
  CHECK(same.st_mtime >= now);          // but used: Prune keeps it

  r.description = "COPY b /a";
  REQUIRE(cache.Put(r).ok());
  std::optional<CacheRecord> hit = cache.Lookup(r.key);
  REQUIRE(hit);
  CHECK(hit->description == "COPY b /a");
}

TEST_CASE("cache records: a torn or foreign file is a miss", "[cache]") {
  Fixture f;
  Digest key = CacheKeyBuilder("x").Finish();
  f.t.Write("store/cache/" + key.hex() + ".json", "{\"key\": \"sha256:");
  CHECK(!f.cache->Lookup(key));
}

TEST_CASE("prune: LRU eviction down to --keep-storage, image blobs survive", "[cache]") {
  Fixture f;
  store::ContentStore& st = *f.store;
  BuildCache& cache = *f.cache;
  std::string big(100000, 'x');
  Digest old_blob = PutBlob(st, big + "old");
  Digest new_blob = PutBlob(st, big + "new");
  Digest loose = PutBlob(st, "nobody references me");
  CacheRecord old_rec = StepRecord("old", old_blob, 100003);
  CacheRecord new_rec = StepRecord("new", new_blob, 100003);
  REQUIRE(cache.Put(old_rec).ok());
  REQUIRE(cache.Put(new_rec).ok());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  SetMtime(paths::CacheRecord(st.root(), old_rec.key), now - 1000);
  SetMtime(paths::CacheRecord(st.root(), new_rec.key), now - 10);

  // An image that uses the old layer too: the blob stays.
  std::string manifest = "{\"schemaVersion\":2,\"mediaType\":\"" +
                         std::string(media::kOciManifest) + "\",\"config\":{\"mediaType\":\"" +
                         std::string(media::kOciConfig) + "\",\"digest\":\"" + loose.str() +
                         "\",\"size\":20},\"layers\":[]}";
  Result<transfer::Descriptor> m = PutSmallBlob(st, std::string(media::kOciManifest), manifest);
  REQUIRE(m.ok());
  REQUIRE(ImageIndex(st.root()).Tag("localhost/app:1", *m).ok());

  PruneOptions o;
  o.keep_bytes = 150000;
  Result<PruneReport> r = Prune(st, o);
  REQUIRE(r.ok());
  CHECK(r->records_removed == 1);
  CHECK(!cache.Lookup(old_rec.key));
  CHECK(cache.Lookup(new_rec.key));
  CHECK(!st.Has(old_blob));
  CHECK(st.Has(new_blob));
  CHECK(st.Has(loose));  // the image's config
  CHECK(st.Has(m->digest));

  Result<PruneReport> all = Prune(st, PruneOptions{true, std::nullopt, 0});
  REQUIRE(all.ok());
  CHECK(!st.Has(new_blob));
  CHECK(st.Has(loose));
  CHECK(st.Has(m->digest));
}

TEST_CASE("prune: young entries survive a min-age guard", "[cache]") {
  Fixture f;
  store::ContentStore& st = *f.store;
  BuildCache& cache = *f.cache;
  Digest blob = PutBlob(st, "fresh");
  CacheRecord r = StepRecord("fresh", blob, 5);
  REQUIRE(cache.Put(r).ok());
  Result<PruneReport> rep = Prune(st, PruneOptions{true, std::nullopt, 3600});
  REQUIRE(rep.ok());
  CHECK(rep->records_removed == 0);
  CHECK(cache.Lookup(r.key));
}

TEST_CASE("sizes parse with docker's units", "[cache]") {
  CHECK(*ParseSize("4096") == 4096);
  CHECK(*ParseSize("10GiB") == (uint64_t{10} << 30));
  CHECK(*ParseSize("512mb") == (uint64_t{512} << 20));
  CHECK(*ParseSize("1.5k") == 1536);
  CHECK(!ParseSize("ten").ok());
  CHECK(!ParseSize("5 parsecs").ok());
}

}  // namespace
}  // namespace hoist::engine
