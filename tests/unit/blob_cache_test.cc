// The local blob copy in front of a remote driver (registry/storage/blob_cache.h):
// what a read leaves behind, what it does not, and what drops a copy. The
// "remote" is a memory driver; the copies are real files in a temporary
// directory, counted on disk.
#include "registry/storage/blob_cache.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "registry/storage/driver.h"
#include "registry/storage/paths.h"

namespace hoist::storage {
namespace {

namespace fs = std::filesystem;

const std::string kBlobA = "/docker/registry/v2/blobs/sha256/aa/aaaa/data";
const std::string kBlobB = "/docker/registry/v2/blobs/sha256/bb/bbbb/data";
const std::string kBlobC = "/docker/registry/v2/blobs/sha256/cc/cccc/data";
const std::string kUpload = "/docker/registry/v2/repositories/r/_uploads/u1/data";

struct Cache {
  explicit Cache(int64_t max_bytes = 1 << 20, std::string at = "") {
    if (at.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "hoist-blob-cache-XXXXXX").string();
      REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
      dir = tmpl;
      owned = true;
    } else {
      dir = at;
    }
    std::unique_ptr<StorageDriver> m = NewMemoryDriver();
    remote = m.get();
    BlobCacheOptions o;
    o.dir = dir;
    o.max_bytes = max_bytes;
    o.immutable = [](const std::string& p) { return paths::IsBlobData(p); };
    o.staging = [](const std::string& p) { return paths::IsUploadData(p); };
    Result<std::unique_ptr<StorageDriver>> d = NewBlobCacheDriver(std::move(m), o);
    REQUIRE(d.ok());
    driver = std::move(*d);
  }
  ~Cache() {
    std::error_code ec;
    if (owned) fs::remove_all(dir, ec);
  }

  // Reads `path` from `offset`, `limit` bytes at most (then gives up).
  std::string Read(const std::string& path, int64_t offset = 0, size_t limit = SIZE_MAX) {
    Result<std::unique_ptr<FileReader>> r = driver->Reader(path, offset);
    REQUIRE(r.ok());
    std::string out;
    char buf[7];
    while (out.size() < limit) {
      Result<size_t> n = (*r)->Read(buf, sizeof buf);
      REQUIRE(n.ok());
      if (*n == 0) break;
      out.append(buf, *n);
    }
    return out;
  }
  // Whether the next read of `path` is answered from a local file.
  bool Local(const std::string& path) {
    Result<std::unique_ptr<FileReader>> r = driver->Reader(path, 0);
    REQUIRE(r.ok());
    return (*r)->fd() >= 0;
  }
  // Regular files below the cache directory.
  int Files() {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
    return n;
  }

  std::string dir;
  bool owned = false;
  StorageDriver* remote;
  std::unique_ptr<StorageDriver> driver;
};

TEST_CASE("blob cache: a whole read leaves a copy that the next read is served from",
          "[storage][blobcache]") {
  Cache c;
  const std::string data(1000, 'a');
  REQUIRE(c.remote->PutContent(kBlobA, data).ok());
  CHECK(c.Files() == 0);
  CHECK(c.Read(kBlobA) == data);
  CHECK(c.Files() == 1);
  CHECK(c.Local(kBlobA));
  CHECK(c.Read(kBlobA) == data);
  CHECK(c.Read(kBlobA, 990) == data.substr(990));
  CHECK(c.driver->Reader(kBlobA, 1001).status().code() == Code::kRangeInvalid);
  CHECK(c.Local(kBlobA));  // a bad offset leaves the copy
  // The copy is what is read: the remote is no longer asked.
  REQUIRE(c.remote->Delete(kBlobA).ok());
  CHECK(c.Read(kBlobA) == data);
}

TEST_CASE("blob cache: a read given up on, or from an offset, leaves nothing",
          "[storage][blobcache]") {
  Cache c;
  REQUIRE(c.remote->PutContent(kBlobA, std::string(1000, 'a')).ok());
  CHECK(c.Read(kBlobA, 0, 500).size() < 1000);
  CHECK(c.Read(kBlobA, 10).size() == 990);
  CHECK(c.Files() == 0);
  CHECK_FALSE(c.Local(kBlobA));
}

TEST_CASE("blob cache: only immutable paths are copied", "[storage][blobcache]") {
  Cache c;
  const std::string link = "/docker/registry/v2/repositories/r/_layers/sha256/aaaa/link";
  REQUIRE(c.remote->PutContent(link, "sha256:aaaa").ok());
  CHECK(c.Read(link) == "sha256:aaaa");
  CHECK(c.Files() == 0);
}

TEST_CASE("blob cache: deleting or rewriting through the driver drops the copy",
          "[storage][blobcache]") {
  Cache c;
  REQUIRE(c.remote->PutContent(kBlobA, "first").ok());
  REQUIRE(c.remote->PutContent(kBlobB, "second").ok());
  c.Read(kBlobA);
  c.Read(kBlobB);
  REQUIRE(c.Files() == 2);
  // A garbage collection deletes the blob's directory.
  REQUIRE(c.driver->Delete("/docker/registry/v2/blobs/sha256/aa/aaaa").ok());
  CHECK(c.Files() == 1);
  CHECK(c.driver->Reader(kBlobA, 0).status().code() == Code::kNotFound);
  REQUIRE(c.driver->PutContent(kBlobB, "other").ok());
  CHECK(c.Files() == 0);
  CHECK(c.Read(kBlobB) == "other");
}

TEST_CASE("blob cache: the least recently read copies go when the cache is full",
          "[storage][blobcache]") {
  Cache c(2500);
  for (const std::string& p : {kBlobA, kBlobB, kBlobC}) {
    REQUIRE(c.remote->PutContent(p, std::string(1000, p[30])).ok());
  }
  c.Read(kBlobA);
  c.Read(kBlobB);
  c.Read(kBlobA);  // A is now more recent than B
  c.Read(kBlobC);
  CHECK(c.Files() == 2);
  CHECK(c.Local(kBlobA));
  CHECK(c.Local(kBlobC));
  CHECK_FALSE(c.Local(kBlobB));
  // A blob larger than the whole cache is served, never kept.
  const std::string big = "/docker/registry/v2/blobs/sha256/dd/dddd/data";
  REQUIRE(c.remote->PutContent(big, std::string(3000, 'd')).ok());
  CHECK(c.Read(big).size() == 3000);
  CHECK_FALSE(c.Local(big));
  CHECK(c.Local(kBlobA));
}

TEST_CASE("blob cache: a new process finds the copies and removes partial files",
          "[storage][blobcache]") {
  Cache first;
  REQUIRE(first.remote->PutContent(kBlobA, "abc").ok());
  first.Read(kBlobA);
  const fs::path partial = fs::path(first.dir) / (kBlobB.substr(1) + ".partial.1.1");
  fs::create_directories(partial.parent_path());
  { std::ofstream(partial) << "half"; }
  const fs::path staged = fs::path(first.dir) / (kUpload.substr(1) + ".staged.1.2");
  fs::create_directories(staged.parent_path());
  { std::ofstream(staged) << "half"; }
  // Files the cache did not name are not its own: never removed.
  const fs::path foreign = fs::path(first.dir) / "notes.txt";
  { std::ofstream(foreign) << "mine"; }
  REQUIRE(first.Files() == 4);
  Cache second(1 << 20, first.dir);
  CHECK(second.Files() == 2);
  CHECK_FALSE(fs::exists(partial));
  CHECK_FALSE(fs::exists(staged));
  CHECK(fs::exists(foreign));
  CHECK(second.Local(kBlobA));
  CHECK(second.Read(kBlobA) == "abc");  // from the copy: this remote is empty
}

// Appends `data` to `path` through `d` and commits (or cancels).
void Append(StorageDriver& d, const std::string& path, const std::string& data,
            bool commit = true) {
  Result<std::unique_ptr<FileWriter>> w = d.Writer(path, true);
  REQUIRE(w.ok());
  REQUIRE((*w)->Write(data.data(), data.size()).ok());
  if (commit) {
    REQUIRE((*w)->Commit().ok());
  } else {
    (*w)->Cancel();
  }
}

TEST_CASE("blob cache: a push whose PATCHes all came through it leaves a copy",
          "[storage][blobcache]") {
  Cache c;
  Append(*c.driver, kUpload, "abc");
  Append(*c.driver, kUpload, "def");
  CHECK(c.Files() == 1);  // staged, not yet a copy
  REQUIRE(c.driver->Move(kUpload, kBlobA).ok());
  CHECK(c.Files() == 1);
  CHECK(c.Local(kBlobA));
  REQUIRE(c.remote->Delete(kBlobA).ok());  // the copy is what is read
  CHECK(c.Read(kBlobA) == "abcdef");
}

TEST_CASE(
    "blob cache: a PATCH through another process, a cancelled write or a deleted session "
    "stage nothing",
    "[storage][blobcache]") {
  Cache c;
  SECTION("another process") {
    Append(*c.driver, kUpload, "abc");
    Append(*c.remote, kUpload, "xyz");  // beneath the cache: another process
    Append(*c.driver, kUpload, "def");
    REQUIRE(c.driver->Move(kUpload, kBlobA).ok());
    CHECK(c.Files() == 0);
    CHECK(c.Read(kBlobA) == "abcxyzdef");
  }
  SECTION("cancelled") {
    // A cancelled writer drops the file (driver.h), here and in the store.
    Append(*c.driver, kUpload, "abc");
    Append(*c.driver, kUpload, "def", /*commit=*/false);
    CHECK(c.Files() == 0);
    CHECK(c.remote->Stat(kUpload).status().code() == Code::kNotFound);
  }
  SECTION("deleted") {
    Append(*c.driver, kUpload, "abc");
    REQUIRE(c.driver->Delete("/docker/registry/v2/repositories/r/_uploads/u1").ok());
    CHECK(c.Files() == 0);
  }
}

TEST_CASE("paths: IsBlobData", "[storage][paths]") {
  Result<Digest> d =
      Digest::Parse("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  REQUIRE(d.ok());
  CHECK(paths::IsBlobData(paths::BlobData(*d)));
  CHECK_FALSE(paths::IsBlobData(paths::BlobDir(*d)));
  CHECK_FALSE(paths::IsBlobData(paths::UploadData("r", "u")));
  CHECK_FALSE(paths::IsBlobData(paths::LayerLink("r", *d)));
  CHECK_FALSE(paths::IsBlobData(paths::BlobsRoot() + "/../repositories/x/data"));
  CHECK(paths::IsUploadData(paths::UploadData("r", "u")));
  CHECK_FALSE(paths::IsUploadData(paths::UploadStartedAt("r", "u")));
  CHECK_FALSE(paths::IsUploadData(paths::BlobData(*d)));
}

}  // namespace
}  // namespace hoist::storage
