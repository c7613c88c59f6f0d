#include "builder/sandbox/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <sstream>

#include "builder/layer/extract.h"
#include "sandbox/helpers.h"

namespace hoist::sandbox {
namespace {

using namespace test;

// Files of the caller are root's, as in a user namespace (or really root's).
IdMap CallerIsRoot() {
  return ::geteuid() == 0 ? IdMap::Identity() : IdMap::SingleRoot(::geteuid(), ::getegid());
}

// One line per entry: "<type> <path> <mode> <uid>:<gid>" plus what the type
// carries. Types: f d l h c b p, w (whiteout), o (opaque).
std::string Describe(const std::vector<layer::Entry>& entries) {
  std::ostringstream out;
  for (const layer::Entry& e : entries) {
    using T = layer::EntryType;
    switch (e.type) {
      case T::kWhiteout:
        out << "w " << e.path << "\n";
        continue;
      case T::kOpaqueWhiteout:
        out << "o " << e.path << "\n";
        continue;
      default:
        break;
    }
    const char* t = e.type == T::kRegular       ? "f"
                    : e.type == T::kDirectory   ? "d"
                    : e.type == T::kSymlink     ? "l"
                    : e.type == T::kHardlink    ? "h"
                    : e.type == T::kCharDevice  ? "c"
                    : e.type == T::kBlockDevice ? "b"
                                                : "p";
    out << t << " " << e.path << " " << std::oct << e.mode << std::dec << " " << e.uid << ":"
        << e.gid;
    if (e.type == T::kRegular) out << " " << e.size;
    if (e.type == T::kSymlink || e.type == T::kHardlink) out << " -> " << e.link_target;
    if (e.type == T::kCharDevice || e.type == T::kBlockDevice) {
      out << " " << e.dev_major << "," << e.dev_minor;
    }
    for (const auto& [k, v] : e.xattrs) out << " " << k << "=" << v;
    out << "\n";
  }
  return out.str();
}

// The change since Begin, checked, as Describe lists it; the entries too.
std::string End(Snapshotter& snap, std::vector<layer::Entry>* entries = nullptr) {
  Result<std::vector<layer::Entry>> e = snap.End();
  REQUIRE(e.ok());
  std::string text = Describe(*e);
  if (entries != nullptr) *entries = std::move(*e);
  return text;
}

// Runs shell commands in `dir` with umask 022.
void In(const std::string& dir, const std::string& cmds) {
  layer::test::Run r = Sh("cd '" + dir + "' && umask 022 && " + cmds);
  INFO(cmds);
  REQUIRE(r.code == 0);
}

// The change made by `mutate` (shell, in the root) to the tree `setup` made.
std::string Change(const TempDir& dir, const std::string& setup, const std::string& mutate) {
  In(dir.path(), setup);
  auto snap = NewWalkSnapshotter(dir.path(), CallerIsRoot());
  REQUIRE(snap->Begin().ok());
  In(dir.path(), mutate);
  std::vector<layer::Entry> entries;
  std::string text = End(*snap, &entries);
  for (const layer::Entry& e : entries) {
    if (e.type == layer::EntryType::kRegular) {
      CHECK(e.host_path == dir.path() + "/" + e.path);
    }
  }
  return text;
}

TEST_CASE("an untouched tree has no change", "[snapshot]") {
  TempDir dir;
  CHECK(Change(dir, "mkdir -p a/b && echo x > a/b/f && ln -s f a/l", "cat a/b/f >/dev/null") == "");
}

TEST_CASE("created, modified, deleted and renamed files", "[snapshot]") {
  TempDir dir;
  std::string change = Change(
      dir,
      "mkdir a b && echo k > a/keep && echo 1 > a/mod && echo d > a/del && echo r > a/ren && "
      "mkdir b/sub && echo x > b/sub/x && echo u > top",
      "echo 22 > a/mod && rm a/del && mv a/ren a/renamed && mkdir -p c/d && echo n > c/d/new && "
      "rm -rf b");
  CHECK(change ==
        "d a 755 0:0\n"
        "w a/del\n"
        "f a/mod 644 0:0 3\n"
        "w a/ren\n"
        "f a/renamed 644 0:0 2\n"
        "w b\n"
        "d c 755 0:0\n"
        "d c/d 755 0:0\n"
        "f c/d/new 644 0:0 2\n");
}

TEST_CASE("a directory replaced by a new one is opaque, and type changes replace", "[snapshot]") {
  TempDir dir;
  std::string change =
      Change(dir,
             "mkdir -p d/s f2 && echo x > d/x && echo y > d/y && echo z > d/s/z && echo f > f1 && "
             "echo in > f2/in",
             "mkdir d2 && echo xx > d2/x && mkdir d2/s && rm -rf d && mv d2 d && "
             "rm f1 && mkdir f1 && rm -rf f2 && echo now-a-file > f2");
  CHECK(change ==
        "d d 755 0:0\n"
        "o d\n"
        "d d/s 755 0:0\n"
        "f d/x 644 0:0 3\n"
        "d f1 755 0:0\n"
        "f f2 644 0:0 11\n");
}

TEST_CASE("symlinks and hard links", "[snapshot]") {
  TempDir dir;
  std::string change = Change(dir, "echo t > t && ln -s a s0 && echo same > same && ln same same2",
                              "ln -s t s1 && ln t h1 && echo n > n && ln n n2 && rm s0 && "
                              "ln -s b s0");
  CHECK(change ==
        "f h1 644 0:0 2\n"
        "f n 644 0:0 2\n"
        "h n2 644 0:0 -> n\n"
        "l s0 777 0:0 -> b\n"
        "l s1 777 0:0 -> t\n"
        "h t 644 0:0 -> h1\n");
}

TEST_CASE("mode, mtime, xattr, recorded owner and device changes", "[snapshot]") {
  TempDir dir;
  In(dir.path(),
     "echo m > chmod && echo m > mtime && echo m > xattr && echo m > owner && "
     "echo u > same && touch dev");
  std::string owner(layer::kOwnerXattr), device(layer::kDeviceXattr);
  auto set = [&](const std::string& f, const std::string& k, const std::string& v) {
    REQUIRE(::lsetxattr((dir / f).c_str(), k.c_str(), v.data(), v.size(), 0) == 0);
  };
  set("xattr", "user.keep", "1");
  auto snap = NewWalkSnapshotter(dir.path(), CallerIsRoot());
  REQUIRE(snap->Begin().ok());
  In(dir.path(), "chmod 600 chmod && touch -d '2001-02-03 04:05:06' mtime");
  set("xattr", "user.keep", "2");
  set("xattr", "user.hoist.internal", "x");
  set("owner", owner, "1000:1001");
  set("dev", device, "c 1 3");
  std::vector<layer::Entry> entries;
  CHECK(End(*snap, &entries) ==
        "f chmod 600 0:0 2\n"
        "c dev 644 0:0 1,3\n"
        "f mtime 644 0:0 2\n"
        "f owner 644 1000:1001 2\n"
        "f xattr 644 0:0 2 user.keep=2\n");
  for (const layer::Entry& e : entries) {
    if (e.path == "mtime") CHECK(e.mtime == 981173106);
  }
}

TEST_CASE("a real chown is seen through the id map", "[snapshot]") {
  if (::geteuid() != 0) {
    WARN("needs root to chown");
    return;
  }
  TempDir dir;
  In(dir.path(), "echo a > a && echo b > b");
  IdMap ids = IdMap::SingleRoot(0, 0);
  ids.uids.push_back({1, 100000, 65536});
  ids.gids.push_back({1, 100000, 65536});
  auto snap = NewWalkSnapshotter(dir.path(), ids);
  REQUIRE(snap->Begin().ok());
  REQUIRE(::chown((dir / "a").c_str(), 100999, 101000) == 0);
  REQUIRE(::chown((dir / "b").c_str(), 4242, 4242) == 0);  // unmapped: overflow id
  CHECK(End(*snap) == "f a 644 1000:1001 2\nf b 644 65534:65534 2\n");
}

// Writes `entries` as an uncompressed layer and lists it with GNU tar.
std::string TarList(const std::string& dir, std::vector<layer::Entry> entries) {
  std::string blob = dir + ".layer.tar";
  {
    layer::test::FileSink sink(blob);
    layer::LayerOptions o;
    o.compress.compression = layer::Compression::kNone;
    Result<layer::LayerDescriptor> d = layer::WriteLayer(std::move(entries), o, sink);
    REQUIRE(d.ok());
  }
  // "hrw-r--r-- 0/0 0 1970-01-01 00:00 n2 link to n" -> "h 0/0 n2 link to n"
  layer::test::Run r =
      Sh("tar --numeric-owner -tvf '" + blob +
         "' | awk '{ t = substr($1, 1, 1); $1 = $3 = $4 = $5 = \"\"; print t, $0 }'"
         " | tr -s ' '");
  ::unlink(blob.c_str());
  REQUIRE(r.code == 0);
  return r.out;
}

TEST_CASE("a change becomes the layer tar -tvf lists", "[snapshot]") {
  TempDir dir;
  In(dir.path(), "mkdir -p d/old keep && echo x > d/old/x && echo g > gone && echo k > keep/k");
  auto snap = NewWalkSnapshotter(dir.path(), CallerIsRoot());
  REQUIRE(snap->Begin().ok());
  In(dir.path(),
     "rm -rf d gone && mkdir d && echo y > d/y && echo n > n && ln n n2 && "
     "ln -s n keep/l && chmod 700 keep");
  REQUIRE(::lsetxattr((dir / "n").c_str(), "user.hoist.owner", "1000:1001", 9, 0) == 0);
  std::vector<layer::Entry> entries;
  End(*snap, &entries);
  // d was deleted and recreated: a new inode unless the filesystem reused it.
  std::string listing = TarList(dir.path(), std::move(entries));
  CHECK(listing.find("d 0/0 d/\n") != std::string::npos);
  CHECK(listing.find("- 0/0 d/y\n") != std::string::npos);
  CHECK(listing.find("- 0/0 .wh.gone\n") != std::string::npos);
  CHECK(listing.find("d 0/0 keep/\n") != std::string::npos);
  CHECK(listing.find("l 0/0 keep/l -> n\n") != std::string::npos);
  CHECK(listing.find("- 1000/1001 n\n") != std::string::npos);
  CHECK(listing.find("h 1000/1001 n2 link to n\n") != std::string::npos);
  CHECK(listing.find("keep/k") == std::string::npos);
  const bool opaque = listing.find("- 0/0 d/.wh..wh..opq\n") != std::string::npos;
  const bool per_file = listing.find("- 0/0 d/.wh.old\n") != std::string::npos;
  CHECK(opaque != per_file);
}

// The overlay snapshotter over a lower directory made by `setup`, after
// `mutate` ran in its merged root, as Describe lists it.
std::string OverlayChange(const TempDir& dir, const std::vector<std::string>& lowers,
                          const std::string& name, const std::string& mutate,
                          std::string* upper = nullptr) {
  auto snap = NewOverlaySnapshotter(lowers, dir.path() + "/" + name, CallerIsRoot());
  Status begun = snap->Begin();
  INFO(begun.message());
  REQUIRE(begun.ok());
  In(snap->root(), mutate);
  std::vector<layer::Entry> entries;
  std::string text = End(*snap, &entries);
  for (const layer::Entry& e : entries) {
    if (e.type == layer::EntryType::kRegular) {
      CHECK(e.host_path == dir.path() + "/" + name + "/upper/" + e.path);
    }
  }
  if (upper != nullptr) *upper = dir.path() + "/" + name + "/upper";
  return text;
}

TEST_CASE("the overlay snapshotter gives the walk's entries, also stacked", "[snapshot]") {
  if (::geteuid() != 0) {
    WARN("overlay mounts need root (hoist builds re-exec into a user namespace for them)");
    return;
  }
  REQUIRE(EnterMountNamespace());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mkdir a b && echo k > a/keep && echo 1 > a/mod && echo d > a/del && echo r > a/ren && "
       "mkdir b/sub && echo x > b/sub/x && echo u > top",
       "echo 22 > a/mod && rm a/del && mv a/ren a/renamed && mkdir -p c/d && echo n > c/d/new && "
       "rm -rf b"},
      {"echo t > t && ln -s a s0 && echo same > same && ln same same2",
       "ln -s t s1 && ln t h1 && echo n > n && ln n n2 && rm s0 && ln -s b s0"},
      {"mkdir -p d/s && echo x > d/x && echo f > f1 && mkdir f2 && echo in > f2/in",
       "rm f1 && mkdir f1 && rm -rf f2 && echo now-a-file > f2 && chmod 700 d && "
       "touch -d '2001-02-03 04:05:06' d/x"},
      {"mkdir big && for i in $(seq 1 200); do echo $i > big/$i; done",
       "cat big/7 >/dev/null && echo changed > big/8 && rm big/9 && chmod 600 big/10"},
  };
  for (const auto& [setup, mutate] : cases) {
    TempDir walk_dir, dir;
    std::string walk = Change(walk_dir, setup, mutate);
    std::string lower = dir.path() + "/lower";
    REQUIRE(::mkdir(lower.c_str(), 0755) == 0);
    In(lower, setup);
    CHECK(OverlayChange(dir, {lower}, "one", mutate) == walk);
  }

  // A second step on the first one's upper directory (deleting what the
  // first made and what the lower holds, replacing a directory).
  const std::string setup = "mkdir -p a/s && echo d > a/del && echo x > a/s/x && echo k > k";
  const std::string first = "rm a/del && echo n > new && mkdir fresh && echo f > fresh/f";
  const std::string second =
      "rm new && rm -rf a/s && echo again > a/del && rm -rf fresh && "
      "mkdir fresh && echo g > fresh/g && echo k2 > k";
  TempDir walk_dir, dir;
  In(walk_dir.path(), setup + " && " + first);
  std::string walk = Change(walk_dir, "true", second);
  std::string lower = dir.path() + "/lower", upper;
  REQUIRE(::mkdir(lower.c_str(), 0755) == 0);
  In(lower, setup);
  OverlayChange(dir, {lower}, "one", first, &upper);
  std::string stacked = OverlayChange(dir, {upper, lower}, "two", second);
  // fresh was replaced: the overlay marks it opaque where the walk may see
  // per-file whiteouts (when the filesystem reuses the inode); the rest is equal.
  auto without_fresh = [](const std::string& t) {
    std::string out, line;
    std::istringstream in(t);
    while (std::getline(in, line)) {
      if (line.find(" fresh") == std::string::npos) out += line + "\n";
    }
    return out;
  };
  CHECK(without_fresh(stacked) == without_fresh(walk));
  CHECK(stacked.find("f fresh/g 644 0:0 2\n") != std::string::npos);
  CHECK(stacked.find("o fresh\n") != std::string::npos);
}

TEST_CASE("a RUN step's change, with owners, from every isolation", "[snapshot][isolation]") {
  ForEachIsolation([&](Isolation, Sandbox& sb, const std::string& root) {
    auto snap = NewWalkSnapshotter(root, sb.ids());
    REQUIRE(snap->Begin().ok());
    Step noop(root, "true");
    RunOk(sb, noop);
    CHECK(End(*snap) == "");

    REQUIRE(snap->Begin().ok());
    Step s(root,
           "umask 022 && echo new > /work/new && chown 1000:1001 /work/new && mkdir /work/dir && "
           "echo extra:x:5:5::/:/bin/sh >> /etc/passwd && rm /etc/group && "
           "ln /work/new /work/link && chmod 4755 /work/dir");
    RunResult r = RunOk(sb, s);
    std::vector<layer::Entry> change;
    CHECK(End(*snap, &change) ==
          "d etc 755 0:0\n"
          "w etc/group\n"
          "f etc/passwd 644 0:0 105\n"
          "d work 755 0:0\n"
          "d work/dir 4755 0:0\n"
          "f work/link 644 1000:1001 4\n"
          "h work/new 644 1000:1001 -> work/link\n");
    std::string listing = TarList(root, std::move(change));
    CHECK(listing.find("- 1000/1001 work/link\n") != std::string::npos);
    CHECK(listing.find("h 1000/1001 work/new link to work/link\n") != std::string::npos);
    CHECK(listing.find("- 0/0 etc/.wh.group\n") != std::string::npos);
    // Back to the start for the next isolation.
    Step clean(root,
               "rm -rf /work/* && head -n 2 /etc/passwd > /p && mv /p /etc/passwd && "
               "printf 'root:x:0:\\nnogroup:x:65534:\\n' > /etc/group");
    RunOk(sb, clean);
  });
}

}  // namespace
}  // namespace hoist::sandbox
