// Build contexts synced from a tar into a mirror directory
// (builder/dockerapi/context_sync.h): written, kept, removed; hashed on the
// way; unsafe archives refused; mirrors locked and bounded. Tars are made
// with GNU tar and python3's tarfile.
#include "builder/dockerapi/context_sync.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "builder/store/file_io.h"
#include "tests/engine/helpers.h"

namespace hoist::dockerapi {
namespace {

using engine::test::TempDir;
namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `tar -C dir -cf out .`
std::string TarOf(const TempDir& t, const std::string& dir, const std::string& name) {
  std::string out = t.path() + "/" + name;
  REQUIRE(std::system(("tar -C '" + dir + "' -cf '" + out + "' .").c_str()) == 0);
  return out;
}

Result<SyncResult> SyncFile(const std::string& tar, const std::string& dir) {
  Result<std::unique_ptr<store::FileSource>> src = store::OpenFileSource(tar);
  REQUIRE(src.ok());
  return SyncTarToDir(**src, dir);
}

// A tar of the members python3's tarfile makes from `script` (which adds
// to `t`, a TarFile open for writing).
std::string PyTar(const TempDir& dir, const std::string& name, const std::string& script) {
  std::string out = dir.path() + "/" + name;
  std::string py = "import io, tarfile\nt = tarfile.open('" + out + "', 'w')\n" +
                   "def add(name, data=b'', kind=tarfile.REGTYPE, link=''):\n"
                   "    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link\n"
                   "    i.size = len(data) if kind == tarfile.REGTYPE else 0\n"
                   "    t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)\n" +
                   script + "\nt.close()\n";
  std::ofstream(dir.path() + "/make.py") << py;
  REQUIRE(std::system(("python3 '" + dir.path() + "/make.py'").c_str()) == 0);
  return out;
}

TEST_CASE("context sync: writes, keeps unchanged files, removes what is gone", "[engine]") {
  TempDir t;
  t.Write("src/a.txt", "alpha");
  t.Write("src/sub/b.txt", "beta");
  t.Write("src/Dockerfile", "FROM scratch\n");
  REQUIRE(::symlink("a.txt", (t.path() + "/src/link").c_str()) == 0);
  REQUIRE(::link((t.path() + "/src/a.txt").c_str(), (t.path() + "/src/hard").c_str()) == 0);
  const std::string mirror = t.path() + "/mirror";

  Result<SyncResult> first = SyncFile(TarOf(t, t.path() + "/src", "1.tar"), mirror);
  REQUIRE(first.ok());
  CHECK(first->written == 5);  // 3 files, the symlink, the hard link
  CHECK(first->kept == 0);
  CHECK(Slurp(mirror + "/sub/b.txt") == "beta");
  CHECK(fs::read_symlink(mirror + "/link") == "a.txt");
  struct stat a {
  }, h{};
  REQUIRE(::stat((mirror + "/a.txt").c_str(), &a) == 0);
  REQUIRE(::stat((mirror + "/hard").c_str(), &h) == 0);
  CHECK(a.st_ino == h.st_ino);
  // Every written file was hashed on the way in.
  REQUIRE(first->hashed.size() == 3);
  for (const auto& [rel, d] : first->hashed) {
    CAPTURE(rel);
    CHECK(d == DigestOf(Slurp(mirror + "/" + rel)));
  }
  struct stat bs {};
  REQUIRE(::stat((mirror + "/sub/b.txt").c_str(), &bs) == 0);
  const ino_t b_ino = bs.st_ino;

  // The same tar again: nothing written.
  Result<SyncResult> again = SyncFile(TarOf(t, t.path() + "/src", "2.tar"), mirror);
  REQUIRE(again.ok());
  CHECK(again->written == 0);
  CHECK(again->kept == 3);
  CHECK(again->hashed.empty());

  // One file changed, one gone, a file turned into a directory.
  t.Write("src/sub/b.txt", "BETA!");
  fs::remove(t.path() + "/src/Dockerfile");
  fs::create_directories(t.path() + "/src/Dockerfile");
  t.Write("src/Dockerfile/inner", "x");
  fs::remove(t.path() + "/src/hard");
  Result<SyncResult> third = SyncFile(TarOf(t, t.path() + "/src", "3.tar"), mirror);
  REQUIRE(third.ok());
  CHECK(Slurp(mirror + "/sub/b.txt") == "BETA!");
  REQUIRE(::stat((mirror + "/sub/b.txt").c_str(), &bs) == 0);
  CHECK(bs.st_ino != b_ino);
  CHECK(Slurp(mirror + "/Dockerfile/inner") == "x");
  CHECK_FALSE(fs::exists(mirror + "/hard"));
  CHECK(third->removed == 1);
  CHECK(third->kept == 1);  // a.txt
  // The mirror is the source, no more, no less.
  std::vector<std::string> have;
  for (const auto& e : fs::recursive_directory_iterator(mirror)) {
    have.push_back(e.path().lexically_relative(mirror).string());
  }
  std::sort(have.begin(), have.end());
  CHECK(have == std::vector<std::string>{"Dockerfile", "Dockerfile/inner", "a.txt", "link", "sub",
                                         "sub/b.txt"});
}

TEST_CASE("context sync: unsafe archives are refused and nothing leaves the mirror", "[engine]") {
  TempDir t;
  const std::string mirror = t.path() + "/mirror";
  fs::create_directories(t.path() + "/outside");
  for (const auto& [name, script] : std::vector<std::pair<std::string, std::string>>{
           {"dotdot", "add('../evil', b'x')"},
           {"absolute", "add('/evil', b'x')"},
           {"through-link",
            "add('l', kind=tarfile.SYMTYPE, link='" + t.path() + "/outside')\nadd('l/evil', b'x')"},
           {"hardlink-out", "add('h', kind=tarfile.LNKTYPE, link='../outside/x')"},
       }) {
    CAPTURE(name);
    Result<SyncResult> r = SyncFile(PyTar(t, name + ".tar", script), mirror);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_FALSE(fs::exists(t.path() + "/outside/evil"));
    CHECK_FALSE(fs::exists(t.path() + "/evil"));
  }
}

TEST_CASE("context sync: a truncated or foreign body leaves no partial file", "[engine]") {
  TempDir t;
  t.Write("src/big.bin", std::string(300000, 'z'));
  std::string tar = TarOf(t, t.path() + "/src", "full.tar");
  std::string cut = t.path() + "/cut.tar";
  std::ofstream(cut, std::ios::binary) << Slurp(tar).substr(0, 150000);
  const std::string mirror = t.path() + "/mirror";
  Result<SyncResult> r = SyncFile(cut, mirror);
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().find("truncated") != std::string::npos);
  for (const auto& e : fs::recursive_directory_iterator(mirror)) {
    CHECK(e.path().filename() != "big.bin");
    CHECK(e.path().string().find("hoist-sync-tmp") == std::string::npos);
  }
  t.Write("garbage", std::string(5000, '\x07'));
  CHECK(SyncFile(t.path() + "/garbage", mirror).status().code() == Code::kInvalidArgument);
}

TEST_CASE("context mirror: one build at a time, at most N kept", "[engine]") {
  TempDir t;
  const std::string parent = t.path() + "/contexts";
  Result<std::unique_ptr<ContextMirror>> a = ContextMirror::Acquire(parent, "k1", 2);
  REQUIRE(a.ok());
  CHECK((*a)->persistent());
  CHECK((*a)->dir() == parent + "/k1");
  {
    // Held: a second build gets a temporary directory, removed after.
    Result<std::unique_ptr<ContextMirror>> b = ContextMirror::Acquire(parent, "k1", 2);
    REQUIRE(b.ok());
    CHECK_FALSE((*b)->persistent());
    fs::create_directories((*b)->dir());
    std::string tmp = (*b)->dir();
    b->reset();
    CHECK_FALSE(fs::exists(tmp));
  }
  fs::create_directories((*a)->dir());
  a->reset();
  for (const char* k : {"k2", "k3", "k4"}) {
    ::usleep(20000);  // distinct last-use times
    Result<std::unique_ptr<ContextMirror>> m = ContextMirror::Acquire(parent, k, 2);
    REQUIRE(m.ok());
    fs::create_directories((*m)->dir());
  }
  CHECK_FALSE(fs::exists(parent + "/k1"));
  CHECK_FALSE(fs::exists(parent + "/k2"));
  CHECK(fs::exists(parent + "/k3"));
  CHECK(fs::exists(parent + "/k4"));
  ContextMirror::RemoveIdle(parent, 0);
  CHECK_FALSE(fs::exists(parent + "/k4"));
}

}  // namespace
}  // namespace hoist::dockerapi
