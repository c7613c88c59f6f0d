#include "builder/layer/extract.h"

#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "builder/layer/root_dir.h"
#include "builder/layer/writer.h"
#include "layer/helpers.h"

namespace hoist::layer {
namespace {

using test::Exists;
using test::RawEntry;
using test::Sh;
using test::TempDir;

std::string Xattr(const std::string& path, const std::string& name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

struct stat Lstat(const std::string& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

std::string Readlink(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  REQUIRE(n >= 0);
  return std::string(buf, static_cast<size_t>(n));
}

LayerDescriptor Write(const std::string& path, std::vector<Entry> entries,
                      Compression c = Compression::kGzip) {
  LayerOptions o;
  o.compress.compression = c;
  return test::WriteLayerFile(path, std::move(entries), o);
}

ExtractReport Apply(const std::string& layer, const std::string& root, ExtractOptions o = {}) {
  Result<ExtractReport> r = ApplyLayerFile(layer, root, o);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("a written layer extracts with its metadata", "[extract]") {
  TempDir dir;
  std::string root = dir / "root";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  Entry hosts = Entry::File("etc/hosts", "127.0.0.1 localhost\n", 0640);
  hosts.uid = 1000;
  hosts.gid = 1001;
  hosts.xattrs = {{"user.note", "kept"}};
  Entry null = Entry::Device("dev/null", EntryType::kCharDevice, 1, 3, 0666);
  Entry fifo = Entry::Fifo("run/fifo");
  std::vector<Entry> entries = {Entry::Dir("etc", 0750),
                                hosts,
                                Entry::Hardlink("etc/hosts2", "etc/hosts"),
                                Entry::Symlink("bin", "/usr/bin"),
                                Entry::File("usr/bin/su", "x", 04755),
                                Entry::File("caf\xc3\xa9/bad\xff", "names are bytes"),
                                null,
                                fifo,
                                Entry::Dir("ro", 0555),
                                Entry::File("ro/inside", "y", 0444)};
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    LayerDescriptor d = Write(dir / "l", entries, c);
    ExtractOptions o;
    o.expected_digest = d.digest;
    o.expected_diff_id = d.diff_id;
    ExtractReport r = Apply(dir / "l", root, o);
    CHECK(r.diff_id == d.diff_id);
    CHECK(r.files == 4);  // hosts2 is a link
    CHECK(test::ReadFile(root + "/caf\xc3\xa9/bad\xff") == "names are bytes");
    CHECK(r.hardlinks == 1);
    CHECK(test::ReadFile(root + "/etc/hosts") == "127.0.0.1 localhost\n");
    struct stat h = Lstat(root + "/etc/hosts");
    CHECK((h.st_mode & 07777) == 0640);
    if (::geteuid() == 0) {
      CHECK(h.st_uid == 1000);
      CHECK(h.st_gid == 1001);
    } else {  // Ownership::kAuto without root: recorded
      CHECK(Xattr(root + "/etc/hosts", std::string(kOwnerXattr)) == "1000:1001");
    }
    CHECK(h.st_mtime == 0);
    CHECK(Lstat(root + "/etc/hosts2").st_ino == h.st_ino);
    CHECK(Xattr(root + "/etc/hosts", "user.note") == "kept");
    CHECK((Lstat(root + "/etc").st_mode & 07777) == 0750);
    CHECK(Lstat(root + "/etc").st_mtime == 0);
    CHECK(Readlink(root + "/bin") == "/usr/bin");
    CHECK((Lstat(root + "/usr/bin/su").st_mode & 07777) == 04755);
    CHECK(S_ISFIFO(Lstat(root + "/run/fifo").st_mode));
    struct stat dev = Lstat(root + "/dev/null");
    if (::geteuid() == 0) {
      CHECK(S_ISCHR(dev.st_mode));
      CHECK(dev.st_rdev == makedev(1, 3));
    } else {  // Devices::kAuto without root: a placeholder
      CHECK(Xattr(root + "/dev/null", std::string(kDeviceXattr)) == "c 1 3");
    }
    CHECK((Lstat(root + "/ro").st_mode & 07777) == 0555);
  }
}

TEST_CASE("without root: ownership and devices are recorded as xattrs", "[extract]") {
  TempDir dir;
  std::string root = dir / "root";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  Entry f = Entry::File("home/app/f", "x", 0600);
  f.uid = 1000;
  f.gid = 100;
  Entry d = Entry::Dir("home/app", 0700);
  d.uid = 1000;
  d.gid = 100;
  Entry dev = Entry::Device("dev/sda", EntryType::kBlockDevice, 8, 0, 0660);
  Entry link = Entry::Symlink("home/app/l", "f");
  link.uid = 1000;
  Write(dir / "l.gz", {d, f, dev, link, Entry::File("root-owned", "r")});
  ExtractOptions o;
  o.ownership = Ownership::kRecord;
  o.devices = Devices::kRecord;
  ExtractReport r = Apply(dir / "l.gz", root, o);
  CHECK(Lstat(root + "/home/app/f").st_uid == ::geteuid());
  CHECK(Xattr(root + "/home/app/f", std::string(kOwnerXattr)) == "1000:100");
  CHECK(Xattr(root + "/home/app", std::string(kOwnerXattr)) == "1000:100");
  CHECK(Xattr(root + "/root-owned", std::string(kOwnerXattr)).empty());
  struct stat sda = Lstat(root + "/dev/sda");
  CHECK(S_ISREG(sda.st_mode));
  CHECK(sda.st_size == 0);
  CHECK(Xattr(root + "/dev/sda", std::string(kDeviceXattr)) == "b 8 0");
  CHECK(r.owners_recorded == 2);
  CHECK(r.owners_unrecorded == 1);  // the symlink: no user xattrs on symlinks
  CHECK(r.devices_recorded == 1);
  CHECK(!r.warnings.empty());
}

TEST_CASE("whiteouts delete and opaque directories hide lower contents", "[extract]") {
  TempDir dir;
  std::string root = dir / "root";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  Write(dir / "base.gz",
        {Entry::File("a/x", "x"), Entry::File("a/y", "y"), Entry::File("c/d/e", "e"),
         Entry::File("c/sub/old", "o"), Entry::File("keep/k", "k"), Entry::Dir("gone/deep/dir")});
  Apply(dir / "base.gz", root);
  Write(dir / "top.gz",
        {Entry::Whiteout("a/x"), Entry::Whiteout("gone"), Entry::Whiteout("never/was"),
         Entry::Opaque("c"), Entry::File("c/new", "n")});
  ExtractReport r = Apply(dir / "top.gz", root);
  CHECK(r.whiteouts == 2);  // "never/was" has no parent: nothing to do
  CHECK(r.opaques == 1);
  CHECK(!Exists(root + "/a/x"));
  CHECK(Exists(root + "/a/y"));
  CHECK(!Exists(root + "/gone"));
  CHECK(!Exists(root + "/c/d"));
  CHECK(!Exists(root + "/c/sub"));
  CHECK(test::ReadFile(root + "/c/new") == "n");
  CHECK(Exists(root + "/keep/k"));
  CHECK(!Exists(root + "/c/.wh..wh..opq"));

  // Marker after the layer's own entries (other writers' order): what the
  // layer put there stays, lower contents still go, also inside a merged dir.
  Write(dir / "lower.gz", {Entry::File("o/sub/old", "o"), Entry::File("o/other", "x")});
  Apply(dir / "lower.gz", root);
  test::CraftTar(dir / "late.tar",
                 {test::RawDir("o/"), test::RawDir("o/sub/"), test::RawFile("o/sub/new", "n"),
                  test::RawFile("o/.wh..wh..opq")});
  Apply(dir / "late.tar", root);
  CHECK(Exists(root + "/o/sub/new"));
  CHECK(!Exists(root + "/o/sub/old"));
  CHECK(!Exists(root + "/o/other"));

  // Whiteouts kept as files when asked (plain archives).
  ExtractOptions keep;
  keep.whiteouts = Whiteouts::kKeep;
  Apply(dir / "top.gz", root, keep);
  CHECK(Exists(root + "/a/.wh.x"));
}

TEST_CASE("existing paths are replaced; directories merge", "[extract]") {
  TempDir dir;
  std::string root = dir / "root";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  Write(dir / "1.gz", {Entry::File("p", "file"), Entry::Dir("d", 0700), Entry::File("d/a", "a"),
                       Entry::Symlink("s", "d")});
  Apply(dir / "1.gz", root);
  Write(dir / "2.gz", {Entry::File("p/child", "now a dir"), Entry::Dir("d", 0755),
                       Entry::File("d/b", "b"), Entry::File("s", "was a symlink")});
  // "p" is a file in the lower layer: its replacement needs a "p/" entry.
  Write(dir / "2.gz", {Entry::Dir("p"), Entry::File("p/child", "now a dir"), Entry::Dir("d", 0755),
                       Entry::File("d/b", "b"), Entry::File("s", "was a symlink")});
  Apply(dir / "2.gz", root);
  CHECK(test::ReadFile(root + "/p/child") == "now a dir");
  CHECK(Exists(root + "/d/a"));
  CHECK(Exists(root + "/d/b"));
  CHECK((Lstat(root + "/d").st_mode & 07777) == 0755);
  CHECK(S_ISREG(Lstat(root + "/s").st_mode));
  CHECK(test::ReadFile(root + "/s") == "was a symlink");
}

// The attacker's target: a sibling of the root with a file in it.
struct Escape {
  TempDir dir;
  std::string root = dir / "root";
  std::string outside = dir / "outside";
  Escape() {
    REQUIRE(::mkdir(root.c_str(), 0755) == 0);
    REQUIRE(::mkdir(outside.c_str(), 0755) == 0);
    test::WriteFile(outside + "/secret", "secret");
  }
  // Nothing but the secret outside, untouched and unlinked.
  void CheckOutsideUntouched() {
    CHECK(Sh("ls -A '" + outside + "'").out == "secret\n");
    CHECK(test::ReadFile(outside + "/secret") == "secret");
    CHECK(Lstat(outside + "/secret").st_nlink == 1);
    CHECK(!Exists(dir / "escape"));
  }
};

TEST_CASE("malicious layers never write outside the root", "[extract][security]") {
  bool fallback = GENERATE(false, true);
  INFO("fallback resolver: " << fallback);
  Escape e;
  ExtractOptions o;
  o.force_fallback_resolver = fallback;
  auto apply = [&](const std::vector<RawEntry>& entries) {
    test::CraftTar(e.dir / "evil.tar", entries);
    return ApplyLayerFile(e.dir / "evil.tar", e.root, o);
  };

  SECTION("names climbing out with .. are refused") {
    for (std::string name : {"../escape", "a/../../escape", "./../escape"}) {
      Result<ExtractReport> r = apply({test::RawFile(name, "x")});
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK(r.status().message().find("escapes the root") != std::string::npos);
    }
  }
  SECTION("writing through an absolute symlink stays inside the root") {
    Result<ExtractReport> r =
        apply({test::RawSymlink("evil", e.outside), test::RawFile("evil/pwned", "x"),
               test::RawFile("evil/secret", "overwritten")});
    REQUIRE(r.ok());
    CHECK(test::ReadFile(e.root + e.outside + "/pwned") == "x");
    CHECK(test::ReadFile(e.root + e.outside + "/secret") == "overwritten");
  }
  SECTION("writing through a relative symlink that climbs stays inside the root") {
    Result<ExtractReport> r = apply({test::RawSymlink("a/rel", "../../../../../../outside"),
                                     test::RawFile("a/rel/secret", "overwritten")});
    REQUIRE(r.ok());
    CHECK(test::ReadFile(e.root + "/outside/secret") == "overwritten");
  }
  SECTION("with follow_symlinks off, a path through a symlink is refused") {
    o.follow_symlinks = false;
    Result<ExtractReport> r =
        apply({test::RawSymlink("evil", e.outside), test::RawFile("evil/pwned", "x")});
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(!Exists(e.root + e.outside));
  }
  SECTION("hard links to outside are refused or resolved inside") {
    CHECK(apply({test::RawLink("hl", "../outside/secret")}).status().code() ==
          Code::kInvalidArgument);
    // Through a symlink: resolved in the root, where there is no secret.
    Result<ExtractReport> r =
        apply({test::RawSymlink("evil", e.outside), test::RawLink("hl2", "evil/secret")});
    CHECK(!r.ok());
    CHECK(!Exists(e.root + "/hl2"));
    // Absolute target: the root's own /outside/secret, not the host's.
    r = apply({test::RawFile(e.outside.substr(1) + "/secret", "mine"),
               test::RawLink("hl3", e.outside + "/secret")});
    REQUIRE(r.ok());
    CHECK(test::ReadFile(e.root + "/hl3") == "mine");
  }
  SECTION("whiteouts through symlinks delete inside the root only") {
    Result<ExtractReport> r =
        apply({test::RawSymlink("evil", e.outside), test::RawFile("evil/.wh.secret"),
               test::RawSymlink("up", ".."), test::RawFile("up/outside/.wh..wh..opq")});
    REQUIRE(r.ok());
  }
  SECTION("absolute entry names land inside the root") {
    Result<ExtractReport> r = apply({test::RawFile("/abs/file", "x")});
    REQUIRE(r.ok());
    CHECK(test::ReadFile(e.root + "/abs/file") == "x");
  }
  e.CheckOutsideUntouched();
}

TEST_CASE("openat2 and the fallback resolver agree", "[extract][security]") {
  TempDir dir;
  std::string r = dir / "root";
  REQUIRE(::mkdir(r.c_str(), 0755) == 0);
  REQUIRE(Sh("cd '" + r +
             "' && mkdir -p a/b c && ln -s /a/b abs && ln -s ../../.. up && "
             "ln -s loop1 loop2 && ln -s loop2 loop1 && ln -s a/b/missing dangling && touch f")
              .code == 0);
  auto o2 = RootDir::Open(r, false);
  auto fb = RootDir::Open(r, true);
  REQUIRE(o2.ok());
  REQUIRE(fb.ok());
  CHECK((*o2)->uses_openat2());
  CHECK(!(*fb)->uses_openat2());
  auto where = [](const RootDir& d, const std::string& p) -> std::string {
    Result<store::UniqueFd> fd = d.OpenDir(p, true);
    if (!fd.ok()) return "error " + std::to_string(static_cast<int>(fd.status().code()));
    return Readlink("/proc/self/fd/" + std::to_string(fd->get()));
  };
  for (std::string p : {"", "a", "a/b", "abs", "abs/..", "up", "up/a", "../../a", "a/../../c",
                        "loop1", "f", "nope", "dangling"}) {
    INFO(p);
    CHECK(where(**o2, p) == where(**fb, p));
  }
  CHECK(where(**o2, "up/a") == r + "/a");
  // MakeDirs follows a dangling symlink and creates its target inside.
  for (const auto* d : {o2->get(), fb->get()}) {
    REQUIRE(d->MakeDirs("dangling/x", true).ok());
    CHECK(Exists(r + "/a/b/missing/x"));
    REQUIRE(::rmdir((r + "/a/b/missing/x").c_str()) == 0);
    REQUIRE(::rmdir((r + "/a/b/missing").c_str()) == 0);
  }
}

TEST_CASE("bad streams and digest mismatches are reported", "[extract]") {
  TempDir dir;
  std::string root = dir / "root";
  REQUIRE(::mkdir(root.c_str(), 0755) == 0);
  LayerDescriptor d = Write(dir / "l.gz", {Entry::File("f", test::Pattern(200000, 1, true))});
  ExtractOptions o;
  o.expected_diff_id = DigestOf("something else");
  CHECK(ApplyLayerFile(dir / "l.gz", root, o).status().code() == Code::kDigestInvalid);
  std::string gz = test::ReadFile(dir / "l.gz");
  gz[gz.size() / 2] ^= 0x40;
  test::WriteFile(dir / "bad.gz", gz);
  CHECK(ApplyLayerFile(dir / "bad.gz", root).status().code() == Code::kInvalidArgument);
  test::WriteFile(dir / "trunc.gz", gz.substr(0, gz.size() / 3));
  CHECK(!ApplyLayerFile(dir / "trunc.gz", root).ok());
  test::WriteFile(dir / "junk", std::string(4096, 'j'));
  CHECK(ApplyLayerFile(dir / "junk", root).status().code() == Code::kInvalidArgument);
  test::WriteFile(dir / "empty", "");
  CHECK(ApplyLayerFile(dir / "empty", root).ok());
}

TEST_CASE("tars made by GNU tar and python extract like GNU tar extracts them",
          "[extract][tools]") {
  TempDir dir;
  REQUIRE(Sh("set -e; cd '" + dir.path() +
             "'; mkdir -p src/d/e; echo hi > src/d/f; ln -s d/f src/l; "
             "ln src/d/f src/hl; chmod 0751 src/d; mkfifo src/p; "
             "tar --numeric-owner -C src -czf gnu.tgz . ; "
             "python3 -c \"import tarfile; t=tarfile.open('py.tar','w:gz'); t.add('src', "
             "arcname='.'); t.close()\"")
              .code == 0);
  for (std::string tarball : {"gnu.tgz", "py.tar"}) {
    std::string ours = dir / ("ours-" + tarball), ref = dir / ("ref-" + tarball);
    REQUIRE(::mkdir(ours.c_str(), 0755) == 0);
    REQUIRE(::mkdir(ref.c_str(), 0755) == 0);
    Apply(dir / tarball, ours);
    REQUIRE(Sh("tar -C '" + ref + "' -xzf '" + dir / tarball + "'").code == 0);
    // Same names, types, modes, link targets and link counts.
    auto listing = [&](const std::string& d) {
      return Sh("cd '" + d + "' && find . -mindepth 1 -printf '%p %y %m %l %n\\n' | sort").out;
    };
    CHECK(listing(ours) == listing(ref));
    // Contents too (diff calls any two fifos different: the listing covers p).
    CHECK(Sh("diff -r --no-dereference -x p '" + ours + "' '" + ref + "'").code == 0);
  }
}

}  // namespace
}  // namespace hoist::layer
