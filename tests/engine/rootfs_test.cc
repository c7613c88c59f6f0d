// Root filesystems by chain ID: extracted once, built on the longest
// extracted prefix with hard links, never written through.
#include "builder/engine/rootfs.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "builder/layer/writer.h"
#include "tests/engine/helpers.h"

namespace hoist::engine {
namespace {

using test::TempDir;

LayerRef Write(store::ContentStore& s, std::vector<layer::Entry> entries) {
  Result<layer::LayerDescriptor> d = layer::WriteLayerToStore(std::move(entries), {}, s);
  REQUIRE(d.ok());
  return LayerRef{d->media_type, d->digest, static_cast<int64_t>(d->size), d->diff_id};
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("chain IDs follow the image spec", "[rootfs]") {
  Digest a = DigestOf("a"), b = DigestOf("b");
  CHECK(ChainId({a}) == a);
  CHECK(ChainId({a, b}) == DigestOf(a.str() + " " + b.str()));
}

TEST_CASE("materialise: layers applied, prefixes reused, files shared not copied", "[rootfs]") {
  TempDir t;
  auto s = store::ContentStore::OpenRoot(t / "store");
  REQUIRE(s.ok());
  LayerRef l1 = Write(
      **s, {layer::Entry::Dir("etc"), layer::Entry::File("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
            layer::Entry::File("etc/old", "gone soon")});
  LayerRef l2 =
      Write(**s, {layer::Entry::Whiteout("etc/old"), layer::Entry::File("app", "v2", 0755)});
  RootfsCache cache(**s);
  Result<std::string> one = cache.Materialize({l1});
  REQUIRE(one.ok());
  CHECK(Read(*one + "/etc/old") == "gone soon");
  Result<std::string> two = cache.Materialize({l1, l2});
  REQUIRE(two.ok());
  CHECK(*two != *one);
  CHECK(Read(*two + "/app") == "v2");
  struct stat st1, st2;
  CHECK(::stat((*two + "/etc/old").c_str(), &st2) != 0);
  // The lower chain is untouched, and its files are shared by hard link.
  CHECK(Read(*one + "/etc/old") == "gone soon");
  REQUIRE(::stat((*one + "/etc/passwd").c_str(), &st1) == 0);
  REQUIRE(::stat((*two + "/etc/passwd").c_str(), &st2) == 0);
  CHECK(st1.st_ino == st2.st_ino);
  CHECK(cache.stats().layers_applied == 2);  // l1 once, then only l2
  Result<std::string> again = cache.Materialize({l1, l2});
  REQUIRE(again.ok());
  CHECK(*again == *two);
  CHECK(cache.stats().reused == 1);
  CHECK(*cache.Materialize({}) == "");
}

TEST_CASE("materialise: a corrupt layer blob fails naming it, leaves nothing", "[rootfs]") {
  TempDir t;
  auto s = store::ContentStore::OpenRoot(t / "store");
  REQUIRE(s.ok());
  LayerRef l = Write(**s, {layer::Entry::File("a", "hello")});
  std::string blob = (*s)->Path(l.digest);
  ::chmod(blob.c_str(), 0644);
  {
    std::ofstream out(blob, std::ios::binary | std::ios::trunc);
    out << "not a layer at all";
  }
  RootfsCache cache(**s);
  Result<std::string> r = cache.Materialize({l});
  REQUIRE(!r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains(l.digest.str()));
  std::error_code ec;
  int left = 0;
  for (auto& e : std::filesystem::directory_iterator(t / "store/rootfs", ec)) {
    (void)e;
    ++left;
  }
  CHECK(left == 0);
}

TEST_CASE("LinkTree keeps directory modes and links everything else", "[rootfs]") {
  TempDir t;
  t.Write("src/d/f", "x");
  REQUIRE(::symlink("d/f", (t / "src/link").c_str()) == 0);
  REQUIRE(::chmod((t / "src/d").c_str(), 0750) == 0);
  REQUIRE(LinkTree(t / "src", t / "dst").ok());
  struct stat st;
  REQUIRE(::stat((t / "dst/d").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0750);
  REQUIRE(::lstat((t / "dst/link").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  REQUIRE(::stat((t / "dst/d/f").c_str(), &st) == 0);
  CHECK(st.st_nlink == 2);
}

}  // namespace
}  // namespace hoist::engine
