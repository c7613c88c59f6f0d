#include "registry/upload_store.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <string>

#include "registry/blob_store.h"
#include "registry/storage/driver.h"
#include "registry/storage/paths.h"

namespace hoist::registry {
namespace {

namespace paths = storage::paths;

// A request body over a string, handing out at most `piece` bytes per Read.
struct StringSource : hoist::StringSource {
  explicit StringSource(std::string data, size_t piece = 7)
      : hoist::StringSource(std::move(data), piece) {}
};

struct Fixture {
  std::unique_ptr<storage::StorageDriver> driver = storage::NewMemoryDriver();
  BlobStore blobs{*driver};
  UploadStore uploads{*driver, blobs};

  std::string Start(DigestAlgorithm a = DigestAlgorithm::kSha256) {
    Result<std::string> id = uploads.Start("repo", a);
    REQUIRE(id.ok());
    return *id;
  }
};

Result<int64_t> Append(UploadStore& u, const std::string& id, const std::string& body,
                       std::optional<ChunkRange> range = std::nullopt, int64_t length = -1) {
  StringSource src(body);
  return u.Append("repo", id, src, range, length);
}

std::string BlobContent(BlobStore& blobs, const Digest& d) {
  auto r = blobs.Open("repo", d, 0);
  REQUIRE(r.ok());
  std::string out;
  char buf[4096];
  while (true) {
    Result<size_t> n = (*r)->Read(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

TEST_CASE("ParseContentRange reads 'a-b' and 'bytes a-b/total'", "[upload]") {
  auto plain = ParseContentRange("0-9");
  REQUIRE(plain);
  CHECK(plain->start == 0);
  CHECK(plain->end == 9);
  auto full = ParseContentRange("bytes 10-19/100");
  REQUIRE(full);
  CHECK(full->start == 10);
  CHECK(full->end == 19);
  auto eq = ParseContentRange("bytes=3-4");
  REQUIRE(eq);
  CHECK(eq->start == 3);
  CHECK(eq->end == 4);
  auto one = ParseContentRange("5-5");
  REQUIRE(one);
  CHECK(one->start == 5);
  CHECK(one->end == 5);
}

TEST_CASE("ParseContentRange rejects malformed and inverted ranges", "[upload]") {
  for (const char* s : {"", "-", "0-", "-9", "a-b", "0:9", "09", "1-2-3", "bytes ", "0 - 9", "-1-5",
                        "99999999999999999999-1"}) {
    INFO(s);
    CHECK_FALSE(ParseContentRange(s).has_value());
  }
  CHECK_FALSE(ParseContentRange("9-0").has_value());
  CHECK_FALSE(ParseContentRange("bytes 10-9/100").has_value());
}

TEST_CASE("UploadStore: Start gives a valid id with offset 0", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  CHECK(UploadStore::IsValidId(id));
  CHECK(f.uploads.Offset("repo", id).value() == 0);
  CHECK(f.driver->Stat(paths::UploadStartedAt("repo", id)).ok());
  CHECK(f.Start() != id);
}

TEST_CASE("UploadStore: appended chunks grow the offset", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  Result<int64_t> a = Append(f.uploads, id, "hello", ChunkRange{0, 4}, 5);
  REQUIRE(a.ok());
  CHECK(*a == 5);
  CHECK(f.uploads.Offset("repo", id).value() == 5);
  Result<int64_t> b = Append(f.uploads, id, " world");
  REQUIRE(b.ok());
  CHECK(*b == 11);
  CHECK(f.uploads.Offset("repo", id).value() == 11);
  CHECK(f.driver->GetContent(paths::UploadData("repo", id)).value() == "hello world");
}

TEST_CASE("UploadStore: a chunk not starting at the offset is kRangeInvalid", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  REQUIRE(Append(f.uploads, id, "hello").ok());
  CHECK(Append(f.uploads, id, "xyz", ChunkRange{3, 5}, 3).status().code() == Code::kRangeInvalid);
  CHECK(Append(f.uploads, id, "xyz", ChunkRange{6, 8}, 3).status().code() == Code::kRangeInvalid);
  CHECK(f.uploads.Offset("repo", id).value() == 5);
  CHECK(f.driver->GetContent(paths::UploadData("repo", id)).value() == "hello");
}

TEST_CASE("UploadStore: a Content-Range disagreeing with Content-Length appends nothing",
          "[upload]") {
  Fixture f;
  std::string id = f.Start();
  CHECK(Append(f.uploads, id, "abc", ChunkRange{0, 9}, 3).status().code() == Code::kRangeInvalid);
  CHECK(f.uploads.Offset("repo", id).value() == 0);
}

TEST_CASE("UploadStore: a body shorter than Content-Length is kSizeInvalid", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  CHECK(Append(f.uploads, id, "abc", std::nullopt, 5).status().code() == Code::kSizeInvalid);
  // The offset reports what was stored, so the client can resume from it.
  Result<int64_t> off = f.uploads.Offset("repo", id);
  REQUIRE(off.ok());
  std::string stored = f.driver->GetContent(paths::UploadData("repo", id)).value();
  CHECK(*off == static_cast<int64_t>(stored.size()));
  REQUIRE(Append(f.uploads, id, "de", ChunkRange{*off, *off + 1}, 2).ok());
  CHECK(f.uploads.Finish("repo", id, DigestOf(stored + "de")).ok());
}

TEST_CASE("UploadStore: Finish with the right digest makes the blob visible", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  REQUIRE(Append(f.uploads, id, "layer ").ok());
  REQUIRE(Append(f.uploads, id, "bytes").ok());
  Digest d = DigestOf("layer bytes");
  REQUIRE(f.uploads.Finish("repo", id, d).ok());
  Result<int64_t> size = f.blobs.Stat("repo", d);
  REQUIRE(size.ok());
  CHECK(*size == 11);
  CHECK(BlobContent(f.blobs, d) == "layer bytes");
  CHECK(f.uploads.Offset("repo", id).status().code() == Code::kBlobUploadUnknown);
  CHECK(f.driver->Stat(paths::UploadDir("repo", id)).status().code() == Code::kNotFound);
  CHECK(f.blobs.Stat("other", d).status().code() == Code::kBlobUnknown);
}

TEST_CASE("UploadStore: Finish of an empty upload stores the empty blob", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  REQUIRE(f.uploads.Finish("repo", id, DigestOf("")).ok());
  CHECK(f.blobs.Stat("repo", DigestOf("")).value() == 0);
}

TEST_CASE("UploadStore: Finish with a wrong digest stores nothing and ends the session",
          "[upload]") {
  Fixture f;
  std::string id = f.Start();
  REQUIRE(Append(f.uploads, id, "actual").ok());
  Digest wrong = DigestOf("expected");
  Status st = f.uploads.Finish("repo", id, wrong);
  CHECK(st.code() == Code::kDigestInvalid);
  CHECK(f.blobs.StatData(wrong).status().code() == Code::kBlobUnknown);
  CHECK(f.blobs.StatData(DigestOf("actual")).status().code() == Code::kBlobUnknown);
  CHECK(f.blobs.Stat("repo", wrong).status().code() == Code::kBlobUnknown);
  CHECK(f.uploads.Offset("repo", id).status().code() == Code::kBlobUploadUnknown);
  CHECK(f.driver->Stat(paths::UploadDir("repo", id)).status().code() == Code::kNotFound);
}

TEST_CASE("UploadStore: sha512 sessions finish with a sha512 digest", "[upload]") {
  Fixture f;
  std::string id = f.Start(DigestAlgorithm::kSha512);
  REQUIRE(Append(f.uploads, id, "five ").ok());
  REQUIRE(Append(f.uploads, id, "twelve").ok());
  Digest d = DigestOf("five twelve", DigestAlgorithm::kSha512);
  REQUIRE(f.uploads.Finish("repo", id, d).ok());
  CHECK(f.blobs.Stat("repo", d).value() == 11);
  CHECK(f.driver->Stat(paths::BlobData(d)).ok());
}

TEST_CASE("UploadStore: a session can be finished with another algorithm than it started",
          "[upload]") {
  Fixture f;
  std::string id = f.Start(DigestAlgorithm::kSha512);
  REQUIRE(Append(f.uploads, id, "content").ok());
  REQUIRE(f.uploads.Finish("repo", id, DigestOf("content")).ok());
  CHECK(f.blobs.Stat("repo", DigestOf("content")).value() == 7);
}

TEST_CASE("UploadStore: bodies larger than the copy buffer hash correctly", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  std::string big;
  big.reserve(3 * 1024 * 1024 + 17);
  for (size_t i = 0; i < 3 * 1024 * 1024 + 17; ++i) big += static_cast<char>(i * 7 % 253);
  StringSource src(big, 4096);
  Result<int64_t> off =
      f.uploads.Append("repo", id, src, std::nullopt, static_cast<int64_t>(big.size()));
  REQUIRE(off.ok());
  CHECK(*off == static_cast<int64_t>(big.size()));
  REQUIRE(f.uploads.Finish("repo", id, DigestOf(big)).ok());
  CHECK(f.blobs.Stat("repo", DigestOf(big)).value() == static_cast<int64_t>(big.size()));
}

TEST_CASE("UploadStore: a second store on the same driver continues a session", "[upload]") {
  Fixture f;
  SECTION("sha256") {
    std::string id = f.Start();
    REQUIRE(Append(f.uploads, id, "part1").ok());
    UploadStore restarted(*f.driver, f.blobs);
    CHECK(restarted.Offset("repo", id).value() == 5);
    StringSource src("part2");
    REQUIRE(restarted.Append("repo", id, src, ChunkRange{5, 9}, 5).ok());
    REQUIRE(restarted.Finish("repo", id, DigestOf("part1part2")).ok());
    CHECK(f.blobs.Stat("repo", DigestOf("part1part2")).value() == 10);
  }
  SECTION("sha512") {
    std::string id = f.Start(DigestAlgorithm::kSha512);
    REQUIRE(Append(f.uploads, id, "part1").ok());
    UploadStore restarted(*f.driver, f.blobs);
    REQUIRE(Append(restarted, id, "part2").ok());
    Digest d = DigestOf("part1part2", DigestAlgorithm::kSha512);
    REQUIRE(restarted.Finish("repo", id, d).ok());
    CHECK(f.blobs.Stat("repo", d).value() == 10);
  }
}

TEST_CASE("UploadStore: two stores appending in turn keep the hash right", "[upload]") {
  Fixture f;
  UploadStore other(*f.driver, f.blobs);
  std::string id = f.Start();
  REQUIRE(Append(f.uploads, id, "a1").ok());
  REQUIRE(Append(other, id, "b2").ok());
  REQUIRE(Append(f.uploads, id, "c3").ok());  // its cached hash is stale now
  REQUIRE(f.uploads.Finish("repo", id, DigestOf("a1b2c3")).ok());
  CHECK(f.blobs.Stat("repo", DigestOf("a1b2c3")).value() == 6);
}

TEST_CASE("UploadStore: Cancel ends the session", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  REQUIRE(Append(f.uploads, id, "data").ok());
  REQUIRE(f.uploads.Cancel("repo", id).ok());
  CHECK(f.uploads.Offset("repo", id).status().code() == Code::kBlobUploadUnknown);
  CHECK(f.uploads.Cancel("repo", id).code() == Code::kBlobUploadUnknown);
  CHECK(Append(f.uploads, id, "more").status().code() == Code::kBlobUploadUnknown);
  CHECK(f.uploads.Finish("repo", id, DigestOf("data")).code() == Code::kBlobUploadUnknown);
  CHECK(f.driver->Stat(paths::UploadDir("repo", id)).status().code() == Code::kNotFound);
}

TEST_CASE("UploadStore: sessions belong to their repository", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  CHECK(f.uploads.Offset("other", id).status().code() == Code::kBlobUploadUnknown);
  StringSource src("x");
  CHECK(f.uploads.Append("other", id, src, std::nullopt, -1).status().code() ==
        Code::kBlobUploadUnknown);
}

TEST_CASE("UploadStore: unknown and malformed ids are kBlobUploadUnknown", "[upload]") {
  Fixture f;
  CHECK(f.uploads.Offset("repo", "no-such-id").status().code() == Code::kBlobUploadUnknown);
  CHECK(f.uploads.Offset("repo", "../x").status().code() == Code::kBlobUploadUnknown);
  CHECK(f.uploads.Cancel("repo", "../../_layers").code() == Code::kBlobUploadUnknown);
  CHECK(f.uploads.Finish("repo", "a/b", DigestOf("")).code() == Code::kBlobUploadUnknown);
}

TEST_CASE("UploadStore::IsValidId rejects path-like and empty ids", "[upload]") {
  CHECK_FALSE(UploadStore::IsValidId("../x"));
  CHECK_FALSE(UploadStore::IsValidId(""));
  CHECK_FALSE(UploadStore::IsValidId("a/b"));
  CHECK_FALSE(UploadStore::IsValidId(".."));
  CHECK_FALSE(UploadStore::IsValidId(std::string(129, 'a')));
  CHECK(UploadStore::IsValidId("0f3c2a1e-1111-4222-8333-444455556666"));
  CHECK(UploadStore::IsValidId(std::string(128, 'a')));
}

}  // namespace
}  // namespace hoist::registry

namespace hoist::registry {
namespace {

TEST_CASE("a PATCH keeps the hash state, and another store goes on from it without reading",
          "[upload]") {
  for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    INFO(AlgorithmName(a));
    Fixture f;
    std::string id = f.Start(a);
    std::string first(1000, 'a'), second = "and the rest";
    REQUIRE(Append(f.uploads, id, first).ok());
    // Where distribution keeps it, in Go's form.
    Result<std::string> state = f.driver->GetContent(paths::UploadHashState("repo", id, a, 1000));
    REQUIRE(state.ok());
    CHECK(state->rfind(a == DigestAlgorithm::kSha512 ? "sha\x07" : "sha\x03", 0) == 0);
    // Another process: a store of its own on the same storage. The bytes
    // on storage are spoiled behind its back: were they read again, the
    // digest would not match.
    UploadStore other(*f.driver, f.blobs);
    Result<std::unique_ptr<storage::FileWriter>> w =
        f.driver->Writer(paths::UploadData("repo", id), false);
    REQUIRE(w.ok());
    REQUIRE((*w)->Write(std::string(1000, 'X').data(), 1000).ok());
    REQUIRE((*w)->Commit().ok());
    StringSource rest(second);
    REQUIRE(other.Append("repo", id, rest, std::nullopt, -1, false).ok());
    Digest want = DigestOf(first + second, a);
    CHECK(other.Finish("repo", id, want).ok());
    // The older state was replaced as the upload moved on, and the session
    // (states included) is gone after the commit.
    CHECK(!f.driver->Stat(paths::UploadDir("repo", id)).ok());
  }
}

TEST_CASE("without a saved state the bytes are read again", "[upload]") {
  Fixture f;
  std::string id = f.Start();
  StringSource body("hello ");
  REQUIRE(f.uploads.Append("repo", id, body, std::nullopt, -1, false).ok());
  CHECK(!f.driver->Stat(paths::UploadHashStatesDir("repo", id, DigestAlgorithm::kSha256)).ok());
  UploadStore other(*f.driver, f.blobs);
  StringSource rest("world");
  REQUIRE(other.Append("repo", id, rest, std::nullopt, -1, false).ok());
  CHECK(other.Finish("repo", id, DigestOf(std::string("hello world"))).ok());
}

}  // namespace
}  // namespace hoist::registry
