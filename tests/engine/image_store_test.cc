// The local image index and the content store as an image source/sink.
#include "builder/engine/image_store.h"

#include <thread>

#include "builder/transfer/copy.h"
#include "builder/transfer/layout.h"
#include "common/media_types.h"
#include "tests/engine/helpers.h"

namespace hoist::engine {
namespace {

using test::TempDir;

// A one-layer image in `s`; returns its manifest descriptor.
transfer::Descriptor MakeImage(store::ContentStore& s, const std::string& layer_text) {
  Result<transfer::Descriptor> layer =
      PutSmallBlob(s, std::string(media::kOciLayerGzip), layer_text);
  REQUIRE(layer.ok());
  Result<transfer::Descriptor> cfg =
      PutSmallBlob(s, std::string(media::kOciConfig), "{\"os\":\"linux\"}");
  REQUIRE(cfg.ok());
  std::string m = "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(media::kOciManifest) +
                  "\",\"config\":{\"mediaType\":\"" + std::string(media::kOciConfig) +
                  "\",\"digest\":\"" + cfg->digest.str() +
                  "\",\"size\":" + std::to_string(cfg->size) + "},\"layers\":[{\"mediaType\":\"" +
                  std::string(media::kOciLayerGzip) + "\",\"digest\":\"" + layer->digest.str() +
                  "\",\"size\":" + std::to_string(layer->size) + "}]}";
  Result<transfer::Descriptor> d = PutSmallBlob(s, std::string(media::kOciManifest), m);
  REQUIRE(d.ok());
  return *d;
}

TEST_CASE("image index: tag, look up, retag, and concurrent writers lose nothing", "[images]") {
  TempDir t;
  ImageIndex index(t.path());
  CHECK(index.List()->empty());
  CHECK(index.Lookup("x").status().code() == Code::kNotFound);
  transfer::Descriptor d;
  d.media_type = std::string(media::kOciManifest);
  d.digest = DigestOf("one");
  d.size = 3;
  REQUIRE(index.Tag("localhost:5000/app:1", d).ok());
  CHECK(index.Lookup("localhost:5000/app:1")->digest == d.digest);
  d.digest = DigestOf("two");
  REQUIRE(index.Tag("localhost:5000/app:1", d).ok());
  CHECK(index.Lookup("localhost:5000/app:1")->digest == DigestOf("two"));

  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { CHECK(index.Tag("n/" + std::to_string(i) + ":1", d).ok()); });
  }
  for (std::thread& th : threads) th.join();
  CHECK(index.List()->size() == 9);
}

TEST_CASE("store source and sink: copy out to a layout and back in", "[images]") {
  TempDir t;
  auto a = store::ContentStore::OpenRoot(t / "a");
  auto b = store::ContentStore::OpenRoot(t / "b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  transfer::Descriptor top = MakeImage(**a, "layer one");
  CHECK(HasImageWhole(**a, top));
  CHECK(!HasImageWhole(**b, top));

  StoreImageSource src(**a, top, "store a");
  Result<std::unique_ptr<transfer::LayoutSink>> layout =
      transfer::LayoutSink::Open(t / "layout", "v1", "oci");
  REQUIRE(layout.ok());
  Result<transfer::CopySummary> out = transfer::Copy(src, **layout, {});
  REQUIRE(out.ok());
  CHECK(out->top.digest == top.digest);
  CHECK(out->blobs_copied == 2);

  Result<std::unique_ptr<transfer::LayoutSource>> back =
      transfer::LayoutSource::Open(t / "layout", "v1", "oci");
  REQUIRE(back.ok());
  StoreImageSink sink(**b);
  Result<transfer::CopySummary> in = transfer::Copy(**back, sink, {});
  REQUIRE(in.ok());
  CHECK(HasImageWhole(**b, top));
  // Everything there: a second copy reads nothing but the top manifest.
  Result<transfer::CopySummary> again = transfer::Copy(**back, sink, {});
  REQUIRE(again.ok());
  CHECK(again->blobs_copied == 0);
  CHECK(again->blobs_skipped == 0);
}

TEST_CASE("small blobs are verified when read", "[images]") {
  TempDir t;
  auto s = store::ContentStore::OpenRoot(t / "s");
  REQUIRE(s.ok());
  Result<transfer::Descriptor> d = PutSmallBlob(**s, "x", "content");
  REQUIRE(d.ok());
  CHECK(*ReadSmallBlob(**s, d->digest) == "content");
  CHECK(ReadSmallBlob(**s, DigestOf("absent")).status().code() == Code::kBlobUnknown);
}

}  // namespace
}  // namespace hoist::engine
