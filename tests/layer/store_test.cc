#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "builder/store/content_store.h"
#include "layer/helpers.h"

namespace hoist::store {
namespace {

using layer::test::StringSource;
using layer::test::TempDir;

std::unique_ptr<ContentStore> Open(const std::string& root) {
  Result<std::unique_ptr<ContentStore>> s = ContentStore::OpenRoot(root);
  REQUIRE(s.ok());
  return std::move(*s);
}

std::string ReadAll(ByteSource& src) {
  std::string out;
  char buf[4096];
  while (true) {
    Result<size_t> n = src.Read(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

TEST_CASE("ingest verifies digest and size, then serves the blob", "[store]") {
  TempDir dir;
  auto st = Open(dir / "s");
  std::string data = layer::test::Pattern(300000, 1);
  Digest d = DigestOf(data);
  CHECK(!st->Has(d));
  CHECK(st->Open(d).status().code() == Code::kBlobUnknown);
  StringSource bad("not the content");
  CHECK(st->Ingest(bad, d).code() == Code::kDigestInvalid);
  StringSource wrong_size(data);
  CHECK(st->Ingest(wrong_size, d, 12).code() == Code::kSizeInvalid);
  CHECK(!st->Has(d));
  StringSource good(data, 1000);
  REQUIRE(st->Ingest(good, d, static_cast<int64_t>(data.size())).ok());
  CHECK(st->Has(d));
  CHECK(*st->Size(d) == data.size());
  CHECK(st->Path(d) == dir / "s/blobs/sha256/" + d.hex());
  auto f = st->Open(d);
  REQUIRE(f.ok());
  CHECK(ReadAll(**f) == data);
  CHECK(st->Verify(d).ok());
  CHECK(std::filesystem::is_empty(dir / "s/tmp"));
}

TEST_CASE("present blobs are not read again; equal writes deduplicate", "[store]") {
  TempDir dir;
  auto st = Open(dir / "s");
  StringSource a("same");
  Result<Digest> d = st->Put(a);
  REQUIRE(d.ok());
  struct stat before {};
  REQUIRE(::stat(st->Path(*d).c_str(), &before) == 0);
  StringSource unread("would fail verification");
  CHECK(st->Ingest(unread, *d).ok());  // returns at once
  StringSource b("same");
  REQUIRE(st->Put(b).ok());
  struct stat after {};
  REQUIRE(::stat(st->Path(*d).c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);
}

TEST_CASE("aborted and failed writers leave nothing", "[store]") {
  TempDir dir;
  auto st = Open(dir / "s");
  {
    auto w = st->NewWriter();
    REQUIRE(w.ok());
    REQUIRE((*w)->Write("partial", 7).ok());
  }  // destroyed without Commit
  auto w = st->NewWriter();
  REQUIRE(w.ok());
  REQUIRE((*w)->Write("abc", 3).ok());
  CHECK((*w)->Commit(DigestOf("abd")).status().code() == Code::kDigestInvalid);
  CHECK(std::filesystem::is_empty(dir / "s/tmp"));
  CHECK(std::filesystem::is_empty(dir / "s/blobs/sha256"));
}

TEST_CASE("layer records round-trip", "[store]") {
  TempDir dir;
  auto st = Open(dir / "s");
  Digest d = DigestOf("blob"), diff = DigestOf("tar");
  CHECK(st->GetLayerInfo(d).status().code() == Code::kNotFound);
  REQUIRE(st->PutLayerInfo({d, diff, "application/vnd.oci.image.layer.v1.tar+gzip", 4, 3}).ok());
  auto info = st->GetLayerInfo(d);
  REQUIRE(info.ok());
  CHECK(info->diff_id == diff);
  CHECK(info->media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
  CHECK(info->size == 4);
  CHECK(info->tar_size == 3);
  REQUIRE(st->Delete(d).ok());
  CHECK(st->GetLayerInfo(d).status().code() == Code::kNotFound);
}

TEST_CASE("corruption on disk is detected by Verify", "[store]") {
  TempDir dir;
  auto st = Open(dir / "s");
  StringSource a("content");
  Digest d = *st->Put(a);
  layer::test::WriteFile(st->Path(d), "tampered");
  CHECK(st->Verify(d).code() == Code::kDigestInvalid);
}

TEST_CASE("several processes and threads ingest the same blobs at once", "[store][concurrency]") {
  TempDir dir;
  std::string root = dir / "s";
  Open(root);
  std::vector<std::string> blobs;
  for (int i = 0; i < 8; ++i) blobs.push_back(layer::test::Pattern(200000 + i, 100 + i));
  std::vector<pid_t> kids;
  for (int p = 0; p < 3; ++p) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // No Catch2 in the child: report through the exit code.
      auto st = ContentStore::OpenRoot(root);
      int bad = st.ok() ? 0 : 1;
      std::vector<std::thread> ts;
      std::atomic<int> fails{0};
      for (int t = 0; t < 3; ++t) {
        ts.emplace_back([&] {
          for (const std::string& b : blobs) {
            StringSource src(b, 4096);
            if (!(*st)->Ingest(src, DigestOf(b), static_cast<int64_t>(b.size())).ok()) ++fails;
          }
        });
      }
      for (auto& t : ts) t.join();
      ::_exit(bad + fails.load());
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int status = 0;
    REQUIRE(::waitpid(k, &status, 0) == k);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto st = Open(root);
  for (const std::string& b : blobs) CHECK(st->Verify(DigestOf(b)).ok());
  CHECK(std::filesystem::is_empty(root + "/tmp"));
}

TEST_CASE("stale temp files are purged; the default root honours HOIST_HOME", "[store]") {
  TempDir dir;
  auto st = Open(dir / "s");
  layer::test::WriteFile(dir / "s/tmp/dead-writer", "x");
  REQUIRE(st->RemoveStaleTemp(std::chrono::seconds(3600)).ok());
  CHECK(layer::test::Exists(dir / "s/tmp/dead-writer"));
  REQUIRE(st->RemoveStaleTemp(std::chrono::seconds(-10)).ok());
  CHECK(!layer::test::Exists(dir / "s/tmp/dead-writer"));
  ::setenv("HOIST_HOME", "/x/home", 1);
  CHECK(ContentStore::DefaultRoot() == "/x/home/store");
  ::unsetenv("HOIST_HOME");
}

}  // namespace
}  // namespace hoist::store
