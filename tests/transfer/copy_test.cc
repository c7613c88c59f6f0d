// Copy over fake places: order, skipping, bounded parallelism, rejection
// of wrong bytes, index handling.
#include "builder/transfer/copy.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "builder/transfer/verify.h"
#include "fixtures.h"

using namespace hoist;
using namespace hoist::transfer;

namespace {

using testing::DescJson;

class FakeSource : public ImageSource {
 public:
  std::string top;
  std::string top_type;
  std::map<std::string, std::string> blobs;  // digest -> bytes served
  std::map<std::string, std::string> manifests;

  std::string Name() const override { return "fake-source"; }
  Result<Manifest> TopManifest() override { return MakeManifest(top_type, top); }
  Result<Manifest> ChildManifest(const Descriptor& d) override {
    auto it = manifests.find(d.digest.str());
    if (it == manifests.end()) return Status(Code::kManifestUnknown, "no " + d.digest.str());
    return MakeManifest(d.media_type, it->second);
  }
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override {
    auto it = blobs.find(d.digest.str());
    if (it == blobs.end()) return Status(Code::kBlobUnknown, "no " + d.digest.str());
    return std::unique_ptr<ByteSource>(new StringSource(it->second));
  }
};

class FakeSink : public ImageSink {
 public:
  std::mutex mu;
  std::map<std::string, std::string> blobs;
  std::vector<std::string> order;  // "blob:<digest>" / "manifest:<digest>" / "commit"
  std::vector<std::string> manifests;
  std::atomic<int> active{0}, max_active{0};
  bool committed = false;

  std::string Name() const override { return "fake-sink"; }
  Result<bool> HasBlob(const Descriptor& d) override {
    std::lock_guard<std::mutex> l(mu);
    return blobs.count(d.digest.str()) > 0;
  }
  Status PutBlob(const Descriptor& d, const BlobOpener& open) override {
    int now = ++active;
    int prev = max_active.load();
    while (now > prev && !max_active.compare_exchange_weak(prev, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto src = open();
    Status st = src.status();
    std::string bytes;
    if (src.ok()) {
      auto all = ReadAllLimited(**src, 1 << 20);
      st = all.status();
      if (all.ok()) bytes = *all;
    }
    --active;
    if (!st.ok()) return st;
    std::lock_guard<std::mutex> l(mu);
    blobs[d.digest.str()] = bytes;
    order.push_back("blob:" + d.digest.str());
    return Status::Ok();
  }
  Status PutManifest(const Manifest& m, bool top) override {
    std::lock_guard<std::mutex> l(mu);
    manifests.push_back(m.digest.str());
    order.push_back(std::string(top ? "top:" : "manifest:") + m.digest.str());
    return Status::Ok();
  }
  Status Commit() override {
    committed = true;
    order.push_back("commit");
    return Status::Ok();
  }
};

// An image of `n` layers in `src`; returns its manifest bytes.
std::string AddImage(FakeSource& src, int n, const std::string& salt) {
  std::string config = "{\"os\":\"linux\",\"salt\":\"" + salt + "\"}";
  src.blobs[DigestOf(config).str()] = config;
  std::string layers;
  for (int i = 0; i < n; ++i) {
    std::string l = "layer " + std::to_string(i) + " of " + salt;
    src.blobs[DigestOf(l).str()] = l;
    layers += (i ? "," : "") + DescJson("application/vnd.oci.image.layer.v1.tar+gzip", l);
  }
  return "{\"schemaVersion\":2,\"mediaType\":\"application/"
         "vnd.oci.image.manifest.v1+json\",\"config\":" +
         DescJson("application/vnd.oci.image.config.v1+json", config) + ",\"layers\":[" + layers +
         "]}";
}

}  // namespace

TEST_CASE("copy writes layers, then the config, then the manifest, then commits", "[copy]") {
  FakeSource src;
  src.top = AddImage(src, 6, "a");
  FakeSink dst;
  CopyOptions o;
  o.jobs = 3;
  auto r = Copy(src, dst, o);
  REQUIRE(r.ok());
  CHECK(r->blobs_copied == 7);
  CHECK(r->top.digest == DigestOf(src.top));
  CHECK(dst.committed);
  REQUIRE(dst.order.size() == 9);
  CHECK(dst.order[6].find("blob:" + DigestOf("{\"os\":\"linux\",\"salt\":\"a\"}").str()) == 0);
  CHECK(dst.order[7] == "top:" + DigestOf(src.top).str());
  CHECK(dst.order[8] == "commit");
  CHECK(dst.max_active.load() <= 3);
  CHECK(dst.max_active.load() >= 2);
  for (auto& [d, bytes] : src.blobs) CHECK(dst.blobs[d] == bytes);
}

TEST_CASE("blobs the destination has are not sent again", "[copy]") {
  FakeSource src;
  src.top = AddImage(src, 3, "b");
  FakeSink dst;
  auto first = Copy(src, dst, {});
  REQUIRE(first.ok());
  dst.order.clear();
  auto second = Copy(src, dst, {});
  REQUIRE(second.ok());
  CHECK(second->blobs_copied == 0);
  CHECK(second->blobs_skipped == 4);
  CHECK(second->bytes_copied == 0);
}

TEST_CASE("wrong bytes fail the copy and nothing is committed", "[copy]") {
  FakeSource src;
  src.top = AddImage(src, 4, "c");
  std::string victim = DigestOf("layer 2 of c").str();
  src.blobs[victim] = "layer 2 of C";  // same size, wrong content
  FakeSink dst;
  CopyOptions o;
  o.jobs = 2;
  auto r = Copy(src, dst, o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kDigestInvalid);
  CHECK(r.status().message().find(victim) != std::string::npos);
  CHECK_FALSE(dst.committed);
  CHECK(dst.manifests.empty());
  CHECK(dst.blobs.count(victim) == 0);
}

TEST_CASE("an index is copied whole, or one platform of it", "[copy]") {
  FakeSource src;
  std::string amd = AddImage(src, 2, "amd64"), arm = AddImage(src, 2, "arm64");
  src.manifests[DigestOf(amd).str()] = amd;
  src.manifests[DigestOf(arm).str()] = arm;
  src.top_type = "application/vnd.oci.image.index.v1+json";
  src.top =
      "{\"schemaVersion\":2,\"mediaType\":\"application/"
      "vnd.oci.image.index.v1+json\",\"manifests\":[" +
      DescJson("application/vnd.oci.image.manifest.v1+json", amd,
               ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") +
      "," +
      DescJson("application/vnd.oci.image.manifest.v1+json", arm,
               ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}") +
      "]}";
  SECTION("whole") {
    FakeSink dst;
    auto r = Copy(src, dst, {});
    REQUIRE(r.ok());
    CHECK(r->top.digest == DigestOf(src.top));
    CHECK(dst.blobs.size() == 6);
    REQUIRE(dst.manifests.size() == 3);
    CHECK(dst.manifests.back() == DigestOf(src.top).str());  // the index last
  }
  SECTION("one platform") {
    FakeSink dst;
    CopyOptions o;
    o.platform = *Platform::Parse("linux/arm64");
    auto r = Copy(src, dst, o);
    REQUIRE(r.ok());
    CHECK(r->top.digest == DigestOf(arm));
    CHECK(dst.blobs.size() == 3);
    CHECK(dst.manifests == std::vector<std::string>{DigestOf(arm).str()});
  }
}
