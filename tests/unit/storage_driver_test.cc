// One driver test suite, run against every StorageDriver (in the spirit of
// distribution's driver/testsuites), plus filesystem-only crash-safety tests.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "registry/storage/blob_cache.h"
#include "registry/storage/cache.h"
#include "registry/storage/driver.h"
#include "registry/storage/s3.h"

namespace hoist::storage {
namespace {

namespace fs = std::filesystem;

// A fresh directory below the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "hoist-driver-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct FilesystemBackend {
  TempDir dir;
  std::unique_ptr<StorageDriver> driver = NewFilesystemDriver(dir.path());
};

struct MemoryBackend {
  std::unique_ptr<StorageDriver> driver = NewMemoryDriver();
};

// The read cache (cache.h) in front of a driver keeps every promise of the
// suite: what is written or deleted through it is seen at once.
struct CachedMemoryBackend {
  std::unique_ptr<StorageDriver> driver =
      NewCachingDriver(NewMemoryDriver(), CacheOptions{.ttl_ms = 60000});
};

// The local blob copy (blob_cache.h) in front of a driver, every path taken
// for a blob and for an upload's data: a whole read, or writes moved into
// place, leave a copy that later reads come from.
struct BlobCachedMemoryBackend {
  BlobCachedMemoryBackend() {
    BlobCacheOptions o;
    o.dir = dir.path();
    o.immutable = [](const std::string&) { return true; };
    o.staging = [](const std::string&) { return true; };
    Result<std::unique_ptr<StorageDriver>> d = NewBlobCacheDriver(NewMemoryDriver(), o);
    REQUIRE(d.ok());
    driver = std::move(*d);
  }
  TempDir dir;
  std::unique_ptr<StorageDriver> driver;
};

std::string ReadAll(FileReader& r, size_t piece = 3) {
  std::string out;
  std::vector<char> buf(piece);
  while (true) {
    Result<size_t> n = r.Read(buf.data(), buf.size());
    REQUIRE(n.ok());
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

std::string ReadFrom(StorageDriver& d, const std::string& path, int64_t offset) {
  Result<std::unique_ptr<FileReader>> r = d.Reader(path, offset);
  REQUIRE(r.ok());
  return ReadAll(**r);
}

std::vector<std::string> SortedList(StorageDriver& d, const std::string& path) {
  Result<std::vector<std::string>> l = d.List(path);
  REQUIRE(l.ok());
  std::vector<std::string> out = *l;
  std::sort(out.begin(), out.end());
  return out;
}

Code CodeOf(const Status& s) {
  return s.code();
}
template <class T>
Code CodeOf(const Result<T>& r) {
  return r.status().code();
}

#ifdef HOIST_S3_DRIVER_TESTS
// The same suite against the S3 driver on a real gateway (s3_driver_tests,
// run by tests/registry/s3_driver.sh, which starts Ceph's radosgw and
// makes the bucket): each test gets a root directory of its own.
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  INFO(name << " must be set (tests/registry/s3_driver.sh sets it)");
  REQUIRE(v != nullptr);
  return v;
}

struct S3Backend {
  S3Backend() {
    static std::atomic<int> serial{0};
    S3Options o;
    o.endpoint = Env("S3_ENDPOINT");
    o.bucket = Env("S3_BUCKET");
    o.region = Env("S3_REGION");
    o.access_key = Env("S3_ACCESS_KEY");
    o.secret_key = Env("S3_SECRET_KEY");
    o.root_directory = "test-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
    o.part_bytes = 5 << 20;
    Result<std::unique_ptr<StorageDriver>> d = NewS3Driver(o);
    INFO(d.status().ToString());
    REQUIRE(d.ok());
    driver = std::move(*d);
  }
  std::unique_ptr<StorageDriver> driver;
};
#define DRIVER_TEST(name) TEMPLATE_TEST_CASE(name, "[driver][s3]", S3Backend)
#else
#define DRIVER_TEST(name)                                                                     \
  TEMPLATE_TEST_CASE(name, "[driver]", FilesystemBackend, MemoryBackend, CachedMemoryBackend, \
                     BlobCachedMemoryBackend)
#endif

DRIVER_TEST("Driver: PutContent then GetContent round trips and replaces") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/a/b/c", "hello").ok());
  Result<std::string> got = d.GetContent("/a/b/c");
  REQUIRE(got.ok());
  CHECK(*got == "hello");

  REQUIRE(d.PutContent("/a/b/c", "x").ok());
  CHECK(d.GetContent("/a/b/c").value() == "x");

  std::string binary("\0\1\2\xff end", 8);
  REQUIRE(d.PutContent("/bin", binary).ok());
  CHECK(d.GetContent("/bin").value() == binary);

  REQUIRE(d.PutContent("/empty", "").ok());
  CHECK(d.GetContent("/empty").value().empty());
}

DRIVER_TEST("Driver: missing paths are kNotFound") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/present/file", "1").ok());
  CHECK(CodeOf(d.GetContent("/absent")) == Code::kNotFound);
  CHECK(CodeOf(d.GetContent("/present/absent")) == Code::kNotFound);
  CHECK(CodeOf(d.Reader("/absent", 0)) == Code::kNotFound);
  CHECK(CodeOf(d.Stat("/absent")) == Code::kNotFound);
  CHECK(CodeOf(d.List("/absent")) == Code::kNotFound);
  CHECK(CodeOf(d.List("/present/file")) == Code::kNotFound);  // a file is no directory
  CHECK(CodeOf(d.Delete("/absent")) == Code::kNotFound);
  CHECK(CodeOf(d.Move("/absent", "/elsewhere")) == Code::kNotFound);
}

DRIVER_TEST("Driver: a directory has no content") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/dir/file", "1").ok());
  CHECK(CodeOf(d.GetContent("/dir")) == Code::kNotFound);
  CHECK(CodeOf(d.Reader("/dir", 0)) == Code::kNotFound);
}

DRIVER_TEST("Driver: Reader starts at the offset, and past the end is kRangeInvalid") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/r", "0123456789").ok());
  CHECK(ReadFrom(d, "/r", 0) == "0123456789");
  CHECK(ReadFrom(d, "/r", 4) == "456789");
  CHECK(ReadFrom(d, "/r", 9) == "9");
  CHECK(ReadFrom(d, "/r", 10).empty());
  CHECK(CodeOf(d.Reader("/r", 11)) == Code::kRangeInvalid);
  CHECK(CodeOf(d.Reader("/r", -1)) == Code::kRangeInvalid);
}

DRIVER_TEST("Driver: Writer truncates or appends, and Size counts existing bytes") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/w", "abc").ok());

  SECTION("append keeps the existing bytes") {
    auto w = d.Writer("/w", true);
    REQUIRE(w.ok());
    CHECK((*w)->Size() == 3);
    REQUIRE((*w)->Write("de", 2).ok());
    CHECK((*w)->Size() == 5);
    REQUIRE((*w)->Commit().ok());
    CHECK(d.GetContent("/w").value() == "abcde");
  }
  SECTION("truncate starts empty") {
    auto w = d.Writer("/w", false);
    REQUIRE(w.ok());
    CHECK((*w)->Size() == 0);
    REQUIRE((*w)->Write("x", 1).ok());
    CHECK((*w)->Size() == 1);
    REQUIRE((*w)->Commit().ok());
    CHECK(d.GetContent("/w").value() == "x");
  }
  SECTION("append to a missing file creates it and its parents") {
    auto w = d.Writer("/new/dir/f", true);
    REQUIRE(w.ok());
    CHECK((*w)->Size() == 0);
    REQUIRE((*w)->Write("z", 1).ok());
    REQUIRE((*w)->Commit().ok());
    CHECK(d.GetContent("/new/dir/f").value() == "z");
  }
}

DRIVER_TEST("Driver: committed writes read back through Reader and Stat") {
  TestType b;
  StorageDriver& d = *b.driver;
  std::string data;
  for (int i = 0; i < 5000; ++i) data += static_cast<char>('a' + i % 26);
  {
    auto w = d.Writer("/up/data", false);
    REQUIRE(w.ok());
    for (size_t off = 0; off < data.size(); off += 700) {
      std::string_view piece = std::string_view(data).substr(off, 700);
      REQUIRE((*w)->Write(piece.data(), piece.size()).ok());
    }
    CHECK((*w)->Size() == static_cast<int64_t>(data.size()));
    REQUIRE((*w)->Commit().ok());
  }
  CHECK(ReadFrom(d, "/up/data", 0) == data);
  CHECK(ReadFrom(d, "/up/data", 4321) == data.substr(4321));
  Result<FileInfo> fi = d.Stat("/up/data");
  REQUIRE(fi.ok());
  CHECK(fi->size == static_cast<int64_t>(data.size()));
}

DRIVER_TEST("Driver: Cancel removes the file") {
  TestType b;
  StorageDriver& d = *b.driver;
  auto w = d.Writer("/c/f", false);
  REQUIRE(w.ok());
  REQUIRE((*w)->Write("partial", 7).ok());
  (*w)->Cancel();
  CHECK(CodeOf(d.Stat("/c/f")) == Code::kNotFound);
  CHECK(CodeOf(d.GetContent("/c/f")) == Code::kNotFound);
}

DRIVER_TEST("Driver: Stat describes files and directories") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/s/dir/file", "12345").ok());
  Result<FileInfo> f = d.Stat("/s/dir/file");
  REQUIRE(f.ok());
  CHECK_FALSE(f->is_dir);
  CHECK(f->size == 5);
  CHECK(f->path == "/s/dir/file");

  for (const char* dir : {"/s", "/s/dir"}) {
    INFO(dir);
    Result<FileInfo> di = d.Stat(dir);
    REQUIRE(di.ok());
    CHECK(di->is_dir);
    CHECK(di->path == dir);
  }
  // A name that is a prefix of a directory is not that directory.
  CHECK(CodeOf(d.Stat("/s/di")) == Code::kNotFound);
}

DRIVER_TEST("Driver: the root of a non-empty store is a directory") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/top/file", "1").ok());
  Result<FileInfo> root = d.Stat("/");
  INFO(root.status().ToString());
  REQUIRE(root.ok());
  CHECK(root->is_dir);
}

DRIVER_TEST("Driver: List returns the full paths of direct children") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/l/x", "1").ok());
  REQUIRE(d.PutContent("/l/y/z", "2").ok());
  REQUIRE(d.PutContent("/l/y/deeper/q", "3").ok());
  REQUIRE(d.PutContent("/l/w", "4").ok());
  REQUIRE(d.PutContent("/lx/other", "5").ok());
  CHECK(SortedList(d, "/l") == std::vector<std::string>{"/l/w", "/l/x", "/l/y"});
  CHECK(SortedList(d, "/l/y") == std::vector<std::string>{"/l/y/deeper", "/l/y/z"});
  CHECK(SortedList(d, "/") == std::vector<std::string>{"/l", "/lx"});
}

DRIVER_TEST("Driver: Move of a file, replacing the destination") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/m/a", "new").ok());
  REQUIRE(d.PutContent("/n/b", "old").ok());
  REQUIRE(d.Move("/m/a", "/n/b").ok());
  CHECK(d.GetContent("/n/b").value() == "new");
  CHECK(CodeOf(d.GetContent("/m/a")) == Code::kNotFound);

  REQUIRE(d.PutContent("/m/c", "c").ok());
  REQUIRE(d.Move("/m/c", "/fresh/parent/c").ok());
  CHECK(d.GetContent("/fresh/parent/c").value() == "c");
  CHECK(CodeOf(d.Stat("/m/c")) == Code::kNotFound);
}

DRIVER_TEST("Driver: Move of a directory carries its whole tree") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/src/f1", "1").ok());
  REQUIRE(d.PutContent("/src/sub/f2", "2").ok());
  REQUIRE(d.Move("/src", "/dst/moved").ok());
  CHECK(d.GetContent("/dst/moved/f1").value() == "1");
  CHECK(d.GetContent("/dst/moved/sub/f2").value() == "2");
  CHECK(CodeOf(d.Stat("/src")) == Code::kNotFound);
  CHECK(CodeOf(d.GetContent("/src/f1")) == Code::kNotFound);
}

DRIVER_TEST("Driver: Move of a directory replaces an existing directory") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/src/f", "new").ok());
  REQUIRE(d.PutContent("/dst/f", "old").ok());
  REQUIRE(d.PutContent("/dst/stale", "stale").ok());
  Status st = d.Move("/src", "/dst");
  INFO(st.ToString());
  REQUIRE(st.ok());
  CHECK(d.GetContent("/dst/f").value() == "new");
  CHECK(CodeOf(d.GetContent("/dst/stale")) == Code::kNotFound);
  CHECK(CodeOf(d.Stat("/src")) == Code::kNotFound);
}

DRIVER_TEST("Driver: Delete of a file leaves its siblings") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/t/a", "1").ok());
  REQUIRE(d.PutContent("/t/ab", "2").ok());
  REQUIRE(d.Delete("/t/a").ok());
  CHECK(CodeOf(d.GetContent("/t/a")) == Code::kNotFound);
  CHECK(d.GetContent("/t/ab").value() == "2");
  CHECK(CodeOf(d.Delete("/t/a")) == Code::kNotFound);
}

DRIVER_TEST("Driver: Delete of a directory removes the whole tree") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/tree/a", "1").ok());
  REQUIRE(d.PutContent("/tree/sub/b", "2").ok());
  REQUIRE(d.PutContent("/tree/sub/deep/c", "3").ok());
  REQUIRE(d.PutContent("/treehouse", "keep").ok());
  REQUIRE(d.Delete("/tree").ok());
  CHECK(CodeOf(d.Stat("/tree")) == Code::kNotFound);
  CHECK(CodeOf(d.GetContent("/tree/sub/deep/c")) == Code::kNotFound);
  CHECK(CodeOf(d.List("/tree")) == Code::kNotFound);
  CHECK(CodeOf(d.Delete("/tree")) == Code::kNotFound);
  CHECK(d.GetContent("/treehouse").value() == "keep");
}

// An upload session's data, appended to by PATCHes of every size (the S3
// driver keeps it as an open multipart upload between them): each append
// sees all before it, Stat the sum, Reader all of it, and a Move to the
// blob's place or a Delete of the session ends it.
DRIVER_TEST("Driver: an upload session's data takes appends of any size") {
  TestType b;
  StorageDriver& d = *b.driver;
  const std::string dir = "/docker/registry/v2/repositories/r/_uploads/u1";
  const std::string data = dir + "/data";
  {  // as a POST makes it: an empty file
    Result<std::unique_ptr<FileWriter>> w = d.Writer(data, false);
    REQUIRE(w.ok());
    REQUIRE((*w)->Commit().ok());
  }
  CHECK(d.Stat(data).value().size == 0);
  std::string all;
  int seed = 1;
  for (size_t n : {size_t{6} << 20, size_t{2} << 20, size_t{1} << 20, size_t{12} << 20,
                   size_t{5} << 20, size_t{0}, size_t{3}}) {
    std::string chunk(n, '\0');
    for (size_t i = 0; i < n; ++i) chunk[i] = static_cast<char>((i * 131 + seed * 17) >> 3);
    ++seed;
    Result<std::unique_ptr<FileWriter>> w = d.Writer(data, true);
    REQUIRE(w.ok());
    CHECK((*w)->Size() == static_cast<int64_t>(all.size()));
    for (size_t at = 0; at < n; at += 1 << 20) {
      size_t k = std::min<size_t>(1 << 20, n - at);
      REQUIRE((*w)->Write(chunk.data() + at, k).ok());
    }
    REQUIRE((*w)->Commit().ok());
    all += chunk;
    Result<FileInfo> fi = d.Stat(data);
    REQUIRE(fi.ok());
    CHECK(fi->size == static_cast<int64_t>(all.size()));
  }
  Result<std::unique_ptr<FileReader>> tail = d.Reader(data, 7 << 20);
  REQUIRE(tail.ok());
  std::string got = ReadAll(**tail, 1 << 20);
  CHECK(got.size() == all.size() - (7 << 20));
  CHECK((got == all.substr(7 << 20)));  // (not printed: megabytes)
  REQUIRE(d.Move(data, "/docker/registry/v2/blobs/sha256/ab/abc/data").ok());
  Result<std::unique_ptr<FileReader>> r =
      d.Reader("/docker/registry/v2/blobs/sha256/ab/abc/data", 0);
  REQUIRE(r.ok());
  got = ReadAll(**r, 1 << 20);
  CHECK(got.size() == all.size());
  CHECK((got == all));

  // A session deleted while it holds appended data leaves nothing.
  const std::string data2 = "/docker/registry/v2/repositories/r/_uploads/u2/data";
  REQUIRE(d.PutContent(data2, "").ok());
  Result<std::unique_ptr<FileWriter>> w = d.Writer(data2, true);
  REQUIRE(w.ok());
  std::string six(6 << 20, 'y');
  REQUIRE((*w)->Write(six.data(), six.size()).ok());
  REQUIRE((*w)->Commit().ok());
  REQUIRE(d.Delete("/docker/registry/v2/repositories/r/_uploads/u2").ok());
  CHECK(CodeOf(d.Stat(data2)) == Code::kNotFound);
}

DRIVER_TEST("Driver: Walk visits depth-first in lexical order") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/walk/b/2", "22").ok());
  REQUIRE(d.PutContent("/walk/a/1", "1").ok());
  REQUIRE(d.PutContent("/walk/c", "333").ok());
  REQUIRE(d.PutContent("/walk/b/1", "1").ok());
  std::vector<std::string> seen;
  Status st = d.Walk("/walk", [&](const FileInfo& fi) {
    seen.push_back(fi.path + (fi.is_dir ? "/" : ":" + std::to_string(fi.size)));
    return WalkAction::kContinue;
  });
  REQUIRE(st.ok());
  CHECK(seen == std::vector<std::string>{"/walk/a/", "/walk/a/1:1", "/walk/b/", "/walk/b/1:1",
                                         "/walk/b/2:2", "/walk/c:3"});
}

DRIVER_TEST("Driver: Walk does not descend where the callback says kSkipDir") {
  TestType b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/walk/a/1", "1").ok());
  REQUIRE(d.PutContent("/walk/b/1", "1").ok());
  REQUIRE(d.PutContent("/walk/b/sub/2", "2").ok());
  REQUIRE(d.PutContent("/walk/c/1", "1").ok());
  std::vector<std::string> seen;
  Status st = d.Walk("/walk", [&](const FileInfo& fi) {
    seen.push_back(fi.path);
    return fi.path == "/walk/b" ? WalkAction::kSkipDir : WalkAction::kContinue;
  });
  REQUIRE(st.ok());
  CHECK(seen ==
        std::vector<std::string>{"/walk/a", "/walk/a/1", "/walk/b", "/walk/c", "/walk/c/1"});
  CHECK(CodeOf(d.Walk("/nowhere", [](const FileInfo&) { return WalkAction::kContinue; })) ==
        Code::kNotFound);
}

DRIVER_TEST("Driver: concurrent PutContent leaves one complete value") {
  TestType b;
  StorageDriver& d = *b.driver;
  constexpr int kThreads = 6;
  constexpr int kRounds = 30;
  std::vector<std::string> values;
  for (int t = 0; t < kThreads; ++t)
    values.push_back(std::string(48 * 1024, static_cast<char>('A' + t)));
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0};
  std::atomic<int> failed_puts{0};
  std::thread reader([&] {
    while (!done) {
      Result<std::string> c = d.GetContent("/race/value");
      if (!c.ok()) {
        if (c.status().code() != Code::kNotFound) ++bad_reads;
        continue;
      }
      if (std::find(values.begin(), values.end(), *c) == values.end()) ++bad_reads;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        if (!d.PutContent("/race/value", values[static_cast<size_t>(t)]).ok()) ++failed_puts;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  CHECK(failed_puts == 0);
  CHECK(bad_reads == 0);
  Result<std::string> final_value = d.GetContent("/race/value");
  REQUIRE(final_value.ok());
  CHECK(std::find(values.begin(), values.end(), *final_value) != values.end());
  // No temporary names are left beside the value.
  CHECK(SortedList(d, "/race") == std::vector<std::string>{"/race/value"});
}

#ifndef HOIST_S3_DRIVER_TESTS
// ---- filesystem only ----

TEST_CASE("Filesystem driver: paths map below the root directory", "[driver][filesystem]") {
  FilesystemBackend b;
  REQUIRE(b.driver->PutContent("/docker/registry/v2/x", "1").ok());
  CHECK(fs::is_regular_file(b.dir.path() + "/docker/registry/v2/x"));
  CHECK(b.driver->Name() == "filesystem");
}

TEST_CASE("Filesystem driver: a failed PutContent leaves no partial file", "[driver][filesystem]") {
  FilesystemBackend b;
  StorageDriver& d = *b.driver;
  REQUIRE(d.PutContent("/p/existing", "old").ok());
  std::string big(64 * 1024, 'x');

  // Make writes beyond 1 KiB fail with EFBIG for the duration of the puts.
  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  struct sigaction ignore {
  }, old_action{};
  ignore.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGXFSZ, &ignore, &old_action) == 0);
  struct rlimit small = saved;
  small.rlim_cur = 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  Status new_put = d.PutContent("/p/new", big);
  Status replace_put = d.PutContent("/p/existing", big);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::sigaction(SIGXFSZ, &old_action, nullptr);

  CHECK_FALSE(new_put.ok());
  CHECK_FALSE(replace_put.ok());
  CHECK(CodeOf(d.Stat("/p/new")) == Code::kNotFound);
  CHECK(d.GetContent("/p/existing").value() == "old");
  // Nothing but the final names is visible: no temporary file left behind.
  CHECK(SortedList(d, "/p") == std::vector<std::string>{"/p/existing"});
}

TEST_CASE("Filesystem driver: PutContent writes under a temporary name, then renames",
          "[driver][filesystem]") {
  FilesystemBackend b;
  StorageDriver& d = *b.driver;
  // While many puts run, every name in the directory is either the final
  // name (holding a complete value) or a temporary name that is not it.
  std::string value(256 * 1024, 'v');
  std::atomic<bool> done{false};
  std::atomic<int> partial{0};
  std::thread watcher([&] {
    while (!done) {
      std::error_code ec;
      if (fs::exists(b.dir.path() + "/q/final", ec)) {
        auto size = fs::file_size(b.dir.path() + "/q/final", ec);
        if (!ec && size != value.size()) ++partial;
      }
    }
  });
  for (int i = 0; i < 40; ++i) REQUIRE(d.PutContent("/q/final", value).ok());
  done = true;
  watcher.join();
  CHECK(partial == 0);
  CHECK(SortedList(d, "/q") == std::vector<std::string>{"/q/final"});
}

TEST_CASE("Filesystem driver: space reserved by a Writer does not change the size",
          "[driver][filesystem]") {
  FilesystemBackend b;
  StorageDriver& d = *b.driver;
  {
    auto w = d.Writer("/res/data", false);
    REQUIRE(w.ok());
    REQUIRE((*w)->Write("abc", 3).ok());
    REQUIRE((*w)->Commit().ok());
  }
  CHECK(d.Stat("/res/data").value().size == 3);
  CHECK(fs::file_size(b.dir.path() + "/res/data") == 3);
  {
    auto w = d.Writer("/res/data", true);
    REQUIRE(w.ok());
    REQUIRE((*w)->Write("de", 2).ok());
    REQUIRE((*w)->Commit().ok());
  }
  CHECK(d.Stat("/res/data").value().size == 5);
  CHECK(d.GetContent("/res/data").value() == "abcde");
  CHECK(ReadFrom(d, "/res/data", 5).empty());
}

TEST_CASE("Filesystem driver: readers expose a file descriptor, memory readers do not",
          "[driver][filesystem]") {
  FilesystemBackend f;
  REQUIRE(f.driver->PutContent("/fd", "0123").ok());
  auto r = f.driver->Reader("/fd", 2);
  REQUIRE(r.ok());
  CHECK((*r)->fd() >= 0);
  CHECK(ReadAll(**r) == "23");

  MemoryBackend m;
  REQUIRE(m.driver->PutContent("/fd", "0123").ok());
  auto mr = m.driver->Reader("/fd", 0);
  REQUIRE(mr.ok());
  CHECK((*mr)->fd() == -1);
}

#endif  // HOIST_S3_DRIVER_TESTS

}  // namespace
}  // namespace hoist::storage
