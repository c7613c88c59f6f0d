// COPY/ADD planning on real directories: Docker's rules one by one, the
// stat index, --chown names, ADD of archives, URLs and git repositories.
#include "builder/engine/copy.h"

#include <sys/xattr.h>

#include <chrono>

#include "builder/engine/glob.h"
#include "builder/engine/url_source.h"
#include "builder/layer/extract.h"
#include "tests/engine/copy_helpers.h"

// LeakSanitizer (sanitizer builds): libgit2 1.5's git_remote_create leaks
// the pcre2 match data of its config lookups, once per remote made (clone
// and ls-remote); not ours to fix. Without frame pointers in those
// libraries the reported stack may show only pcre2.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgit2.so\nleak:libpcre2-8.so\n";
}

namespace hoist::engine {
namespace {

using layer::Entry;
using layer::EntryType;
using test::Context;
using test::Entries;
using test::Paths;
using test::Q;
using test::Req;
using test::SetMtime;
using test::Sh;
using test::TempDir;
using Names = std::vector<std::string>;

ModeChange Mode(const char* spec) {
  Result<ModeChange> m = ModeChange::Parse(spec);
  REQUIRE(m.ok());
  return *m;
}

std::string Text(const Entry& e) {
  if (!e.host_path.empty()) return test::ReadFile(e.host_path);
  REQUIRE(e.open);
  Result<std::unique_ptr<ByteSource>> src = e.open();
  REQUIRE(src.ok());
  std::string out;
  char buf[4096];
  while (true) {
    Result<size_t> n = (*src)->Read(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

void SetXattr(const std::string& path, const std::string& name, const std::string& value) {
  REQUIRE(::lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) == 0);
}

// ---- destinations ----

TEST_CASE("COPY of a file to a new path creates that file", "[copy]") {
  TempDir ctx;
  ctx.Write("a.txt", "alpha");
  REQUIRE(::chmod((ctx / "a.txt").c_str(), 0640) == 0);
  SetMtime(ctx / "a.txt", 1500000000);
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"a.txt"}, "/dst"));
  CHECK(Paths(m) == Names{"dst"});
  const Entry& e = m.at("dst");
  CHECK(e.type == EntryType::kRegular);
  CHECK(e.mode == 0640);
  CHECK(e.uid == 0);
  CHECK(e.gid == 0);
  CHECK(e.size == 5);
  CHECK(e.mtime == 1500000000);
  CHECK(Text(e) == "alpha");
}

TEST_CASE("COPY of a file to a destination ending in / copies into it", "[copy]") {
  TempDir ctx;
  ctx.Write("a.txt", "alpha");
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"a.txt"}, "/x/dst/"));
  CHECK(Paths(m) == Names{"x", "x/dst", "x/dst/a.txt"});
  CHECK(m.at("x").type == EntryType::kDirectory);
  CHECK(m.at("x").mode == 0755);
  CHECK(m.at("x/dst").mode == 0755);
}

TEST_CASE("COPY of a file onto a directory of the stage copies into it", "[copy]") {
  TempDir ctx, stage;
  ctx.Write("a.txt", "alpha");
  REQUIRE(::mkdir((stage / "dst").c_str(), 0700) == 0);
  SetMtime(stage / "dst", 1600000000);
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"a.txt"}, "/dst");
  r.stage_root = stage.path();
  auto m = Entries(*tree, r);
  CHECK(Paths(m) == Names{"dst", "dst/a.txt"});
  // The existing directory keeps its metadata from the stage.
  CHECK(m.at("dst").mode == 0700);
  CHECK(m.at("dst").mtime == 1600000000);
}

TEST_CASE("COPY of a directory copies its contents, not the directory", "[copy]") {
  TempDir ctx;
  ctx.Write("dir/x", "x");
  ctx.Write("dir/sub/y", "y");
  REQUIRE(::chmod((ctx / "dir/sub").c_str(), 0750) == 0);
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"dir"}, "/dst"));
  CHECK(Paths(m) == Names{"dst", "dst/sub", "dst/sub/y", "dst/x"});
  CHECK(m.at("dst/sub").mode == 0750);
  CHECK(Text(m.at("dst/sub/y")) == "y");
}

TEST_CASE("COPY . copies the context's contents with a 0755 destination", "[copy]") {
  TempDir ctx;  // mkdtemp makes it 0700: that must not leak into the image
  ctx.Write("f", "1");
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"."}, "/app"));
  CHECK(Paths(m) == Names{"app", "app/f"});
  CHECK(m.at("app").mode == 0755);
}

TEST_CASE("several sources need a destination directory ending in /", "[copy]") {
  TempDir ctx, stage;
  ctx.Write("a", "a");
  ctx.Write("b", "b");
  auto tree = Context(ctx.path());
  Result<CopyResult> bad = PlanCopy(*tree, Req({"a", "b"}, "/dst"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message() ==
        "When using COPY with more than one source file, the destination must be a directory "
        "and end with a /");
  CopyRequest add = Req({"a", "b"}, "/dst");
  add.is_add = true;
  CHECK(PlanCopy(*tree, add).status().message().rfind("When using ADD with", 0) == 0);
  CHECK(Paths(Entries(*tree, Req({"a", "b"}, "/dst/"))) == Names{"dst", "dst/a", "dst/b"});
  // A wildcard matching several files is several sources.
  CHECK_FALSE(PlanCopy(*tree, Req({"?"}, "/dst")).ok());
  // An existing directory of the stage is a directory without the slash.
  REQUIRE(::mkdir((stage / "dst").c_str(), 0755) == 0);
  CopyRequest r = Req({"a", "b"}, "/dst");
  r.stage_root = stage.path();
  CHECK(Paths(Entries(*tree, r)) == Names{"dst", "dst/a", "dst/b"});
}

TEST_CASE("the destination is relative to WORKDIR", "[copy]") {
  TempDir ctx;
  ctx.Write("a.txt", "a");
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"a.txt"}, "sub/");
  r.workdir = "/app";
  CHECK(Paths(Entries(*tree, r)) == Names{"app", "app/sub", "app/sub/a.txt"});
  r.dest = ".";
  CHECK(Paths(Entries(*tree, r)) == Names{"app", "app/a.txt"});
  r.dest = "renamed";
  CHECK(Paths(Entries(*tree, r)) == Names{"app", "app/renamed"});
}

TEST_CASE("a destination through a symlink of the stage lands where it points", "[copy]") {
  TempDir ctx, stage;
  ctx.Write("a.txt", "a");
  REQUIRE(::mkdir((stage / "real").c_str(), 0711) == 0);
  REQUIRE(::symlink("/real", (stage / "link").c_str()) == 0);
  // A link that climbs out of the stage stays inside it.
  REQUIRE(::symlink("../../../../../real", (stage / "up").c_str()) == 0);
  auto tree = Context(ctx.path());
  for (const char* dest : {"/link/", "/link", "/up/"}) {
    CopyRequest r = Req({"a.txt"}, dest);
    r.stage_root = stage.path();
    auto m = Entries(*tree, r);
    CHECK(Paths(m) == Names{"real", "real/a.txt"});
    CHECK(m.at("real").mode == 0711);
  }
}

// ---- sources ----

TEST_CASE("wildcards follow filepath.Match, one path element at a time", "[copy]") {
  TempDir ctx;
  for (const char* f : {"a1.txt", "a2.txt", "b.txt", "sub/a3.txt", "sub/deep/a4.txt", "x[1]"}) {
    ctx.Write(f, f);
  }
  auto tree = Context(ctx.path());
  CHECK(Paths(Entries(*tree, Req({"a?.txt"}, "/d/"))) == Names{"d", "d/a1.txt", "d/a2.txt"});
  CHECK(Paths(Entries(*tree, Req({"*.txt"}, "/d/"))) ==
        Names{"d", "d/a1.txt", "d/a2.txt", "d/b.txt"});
  CHECK(Paths(Entries(*tree, Req({"s*/a*.txt"}, "/d/"))) == Names{"d", "d/a3.txt"});
  CHECK(Paths(Entries(*tree, Req({"[ab]1.txt", "[^a]*.txt"}, "/d/"))) ==
        Names{"d", "d/a1.txt", "d/b.txt"});
  CHECK(Paths(Entries(*tree, Req({"**.txt"}, "/d/"))) ==
        Names{"d", "d/a1.txt", "d/a2.txt", "d/b.txt"});
  CHECK(Paths(Entries(*tree, Req({"x\\[1\\]*"}, "/d/"))) == Names{"d", "d/x[1]"});
  // A matched directory contributes its contents.
  CHECK(Paths(Entries(*tree, Req({"su?"}, "/d/"))) ==
        Names{"d", "d/a3.txt", "d/deep", "d/deep/a4.txt"});
}

TEST_CASE("wildcard element patterns agree with filepath.Match", "[copy][glob]") {
  auto match = [](const char* pattern, const char* name) {
    Result<ElementPattern> p = ElementPattern::Compile(pattern);
    REQUIRE(p.ok());
    return p->Match(name);
  };
  CHECK(match("a*b", "axxb"));
  CHECK(match("a**b", "axb"));
  CHECK(match("*", ".hidden"));
  CHECK(match("!x*", "!xy"));
  CHECK(match(" a*", " ab"));
  CHECK(match("a* ", "ab "));
  CHECK_FALSE(match("a* ", "ab"));
  CHECK(match("[a-c]?", "by"));
  CHECK_FALSE(match("[!a]", "b"));  // '!' is a plain character in Go's classes
  CHECK(match("[^a]", "b"));
  CHECK(match("\\*", "*"));
  CHECK_FALSE(match("\\*", "x"));
  CHECK_FALSE(ElementPattern::Compile("[a").ok());
  CHECK(HasWildcards("a/*.go"));
  CHECK_FALSE(HasWildcards("a/\\*.go"));
}

TEST_CASE("a wildcard that matches nothing is allowed, as BuildKit's AllowEmptyWildcard",
          "[copy]") {
  TempDir ctx;
  ctx.Write("a.txt", "a");
  auto tree = Context(ctx.path());
  Result<CopyResult> r = PlanCopy(*tree, Req({"a*", "*.go"}, "/d/"));
  REQUIRE(r.ok());
  bool copied = false;
  for (const auto& e : r->entries) copied = copied || e.path == "d/a.txt";
  CHECK(copied);
  CHECK(PlanCopy(*tree, Req({"*.go"}, "/d/")).ok());
  CHECK(CopySourcesKey(*tree, Req({"*.go"}, "/d/")).ok());
  // Without a wildcard, a source must exist.
  CHECK(PlanCopy(*tree, Req({"a*", "b.go"}, "/d/")).status().code() == Code::kNotFound);
}

TEST_CASE("a missing source is kNotFound naming it", "[copy]") {
  TempDir ctx;
  auto tree = Context(ctx.path());
  Result<CopyResult> r = PlanCopy(*tree, Req({"missing.txt"}, "/d"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kNotFound);
  CHECK(r.status().message().find("\"/missing.txt\": not found") != std::string::npos);
}

TEST_CASE("a source above the context is clamped to its root, as BuildKit does", "[copy]") {
  TempDir ctx;
  ctx.Write("a", "a");
  auto tree = Context(ctx.path());
  for (const char* src : {"../a", "x/../../a", "/../../a"}) {
    INFO(src);
    CHECK(Paths(Entries(*tree, Req({src}, "/d"))) == Names{"d"});
  }
  // An absolute source is relative to the context's root.
  CHECK(Paths(Entries(*tree, Req({"/a"}, "/d"))) == Names{"d"});
}

TEST_CASE("symlinks inside a copied directory are copied as symlinks", "[copy]") {
  TempDir ctx;
  ctx.Write("dir/target", "t");
  REQUIRE(::symlink("target", (ctx / "dir/rel").c_str()) == 0);
  REQUIRE(::symlink("/etc/passwd", (ctx / "dir/abs").c_str()) == 0);
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"dir"}, "/d"));
  CHECK(m.at("d/rel").type == EntryType::kSymlink);
  CHECK(m.at("d/rel").link_target == "target");
  CHECK(m.at("d/abs").link_target == "/etc/passwd");
}

TEST_CASE("a symlink named as a source is followed, inside the context", "[copy]") {
  TempDir ctx;
  ctx.Write("real.txt", "real");
  ctx.Write("realdir/inner", "i");
  REQUIRE(::symlink("real.txt", (ctx / "link").c_str()) == 0);
  REQUIRE(::symlink("realdir", (ctx / "dirlink").c_str()) == 0);
  REQUIRE(::symlink("/real.txt", (ctx / "abslink").c_str()) == 0);
  REQUIRE(::symlink("../../../../etc/hostname", (ctx / "escape").c_str()) == 0);
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"link"}, "/d/"));
  CHECK(m.at("d/link").type == EntryType::kRegular);  // the link's name, the target's content
  CHECK(Text(m.at("d/link")) == "real");
  CHECK(Paths(Entries(*tree, Req({"dirlink"}, "/d"))) == Names{"d", "d/inner"});
  // Absolute targets resolve against the context's root...
  CHECK(Text(Entries(*tree, Req({"abslink"}, "/f")).at("f")) == "real");
  // ... and nothing resolves above it.
  Result<CopyResult> r = PlanCopy(*tree, Req({"escape"}, "/f"));
  CHECK(r.status().code() == Code::kNotFound);
  // A wildcard match is followed too.
  CHECK(Entries(*tree, Req({"lin?"}, "/d/")).at("d/link").type == EntryType::kRegular);
}

TEST_CASE("hard links within the copied files stay hard links", "[copy]") {
  TempDir ctx;
  ctx.Write("dir/a", "shared");
  REQUIRE(::link((ctx / "dir/a").c_str(), (ctx / "dir/b").c_str()) == 0);
  ctx.Write("dir/c", "alone");
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"dir"}, "/d"));
  CHECK(m.at("d/a").type == EntryType::kRegular);
  CHECK(m.at("d/b").type == EntryType::kHardlink);
  CHECK(m.at("d/b").link_target == "d/a");
  CHECK(m.at("d/c").type == EntryType::kRegular);
}

TEST_CASE("COPY --chmod applies to copied files and directories, not created parents", "[copy]") {
  TempDir ctx;
  ctx.Write("dir/f", "f");
  ctx.Write("dir/sub/g", "g");
  REQUIRE(::symlink("f", (ctx / "dir/l").c_str()) == 0);
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"dir"}, "/x/y/d");
  r.chmod = Mode("0600");
  auto m = Entries(*tree, r);
  CHECK(m.at("x").mode == 0755);
  CHECK(m.at("x/y").mode == 0755);
  CHECK(m.at("x/y/d").mode == 0600);  // made from the source directory
  CHECK(m.at("x/y/d/f").mode == 0600);
  CHECK(m.at("x/y/d/sub").mode == 0600);
  CHECK(m.at("x/y/d/sub/g").mode == 0600);
  CHECK(m.at("x/y/d/l").type == EntryType::kSymlink);
}

TEST_CASE("COPY --chmod with a symbolic mode changes each entry's own bits", "[copy]") {
  TempDir ctx;
  ctx.Write("dir/f", "f");
  ctx.Write("dir/run", "#!/bin/sh\n");
  ctx.Write("dir/sub/g", "g");
  REQUIRE(::chmod((ctx / "dir/f").c_str(), 0640) == 0);
  REQUIRE(::chmod((ctx / "dir/run").c_str(), 0700) == 0);
  REQUIRE(::chmod((ctx / "dir/sub").c_str(), 0700) == 0);
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"dir"}, "/d");
  r.chmod = Mode("a=rX,u+w");
  auto m = Entries(*tree, r);
  CHECK(m.at("d/f").mode == 0644);
  CHECK(m.at("d/run").mode == 0755);
  CHECK(m.at("d/sub").mode == 0755);
  CHECK(m.at("d/sub/g").mode == 0644);
}

TEST_CASE("COPY --chown owns copied entries and created parents, existing parents keep theirs",
          "[copy]") {
  TempDir ctx, stage;
  ctx.Write("f", "f");
  REQUIRE(::mkdir((stage / "app").c_str(), 0755) == 0);
  SetXattr(stage / "app", std::string(layer::kOwnerXattr), "5:6");
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"f"}, "/app/new/");
  r.stage_root = stage.path();
  r.chown = Owner{1000, 1001};
  auto m = Entries(*tree, r);
  CHECK(m.at("app").uid == 5);
  CHECK(m.at("app").gid == 6);
  CHECK(m.at("app/new").uid == 1000);
  CHECK(m.at("app/new").gid == 1001);
  CHECK(m.at("app/new/f").uid == 1000);
  CHECK(m.at("app/new/f").gid == 1001);
}

TEST_CASE("context files are owned by 0:0 whoever owns them on the host", "[copy]") {
  TempDir ctx;
  ctx.Write("f", "f");
  if (::geteuid() == 0) REQUIRE(::chown((ctx / "f").c_str(), 1234, 4321) == 0);
  auto tree = Context(ctx.path());
  auto m = Entries(*tree, Req({"f"}, "/f"));
  CHECK(m.at("f").uid == 0);
  CHECK(m.at("f").gid == 0);
}

TEST_CASE("COPY --from a stage keeps the owners the stage recorded", "[copy]") {
  TempDir root;
  root.Write("app/bin", "bin");
  root.Write("dev/null", "");
  SetXattr(root / "app/bin", std::string(layer::kOwnerXattr), "7:8");
  SetXattr(root / "app/bin", "user.note", "kept");
  SetXattr(root / "dev/null", std::string(layer::kDeviceXattr), "c 1 3");
  Result<std::unique_ptr<SourceTree>> t = OpenStageTree("stage build", root.path());
  REQUIRE(t.ok());
  CHECK((*t)->KeepOwners());
  auto m = Entries(**t, Req({"/app", "/dev/null"}, "/out/"));
  CHECK(m.at("out/bin").uid == 7);
  CHECK(m.at("out/bin").gid == 8);
  REQUIRE(m.at("out/bin").xattrs.size() == 1);
  CHECK(m.at("out/bin").xattrs[0].first == "user.note");
  CHECK(m.at("out/null").type == EntryType::kCharDevice);
  CHECK(m.at("out/null").dev_major == 1);
  CHECK(m.at("out/null").dev_minor == 3);
  CopyRequest r = Req({"/app/bin"}, "/bin");
  r.chown = Owner{0, 0};
  CHECK(Entries(**t, r).at("bin").uid == 0);
}

TEST_CASE("COPY --exclude leaves out matching files", "[copy]") {
  TempDir ctx;
  ctx.Write("dir/keep.c", "c");
  ctx.Write("dir/drop.log", "l");
  ctx.Write("dir/sub/deep.log", "l");
  ctx.Write("home.txt", "t");
  ctx.Write("homer.c", "c");
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"dir"}, "/d");
  r.excludes = {"*.log", "sub"};
  CHECK(Paths(Entries(*tree, r)) == Names{"d", "d/keep.c"});
  // Matched sources are excluded by their own path.
  r = Req({"hom*"}, "/d/");
  r.excludes = {"*.txt"};
  CHECK(Paths(Entries(*tree, r)) == Names{"d", "d/homer.c"});
}

TEST_CASE("COPY --parents keeps the matched path below the destination", "[copy]") {
  TempDir ctx;
  ctx.Write("a/b/c.txt", "c");
  ctx.Write("x/y.txt", "y");
  ctx.Write("p/q/r/s.txt", "s");
  REQUIRE(::chmod((ctx / "a/b").c_str(), 0700) == 0);
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"a/b/c.txt", "x/*.txt"}, "/dst");
  r.parents = true;
  auto m = Entries(*tree, r);
  CHECK(Paths(m) == Names{"dst", "dst/a", "dst/a/b", "dst/a/b/c.txt", "dst/x", "dst/x/y.txt"});
  CHECK(m.at("dst/a/b").mode == 0700);  // from the source
  // "/./" marks where the kept part starts.
  r = Req({"p/./q/r"}, "/dst/");
  r.parents = true;
  CHECK(Paths(Entries(*tree, r)) == Names{"dst", "dst/q", "dst/q/r", "dst/q/r/s.txt"});
}

TEST_CASE(".dockerignore hides context files, stage trees ignore nothing", "[copy]") {
  TempDir ctx;
  ctx.Write("app.c", "c");
  ctx.Write("debug.log", "l");
  ctx.Write("build/out.o", "o");
  ctx.Write("build/keep.txt", "k");
  auto tree = Context(ctx.path(), "*.log\nbuild\n!build/keep.txt\n");
  CHECK(Paths(Entries(*tree, Req({"."}, "/app"))) ==
        Names{"app", "app/app.c", "app/build", "app/build/keep.txt"});
  CHECK(PlanCopy(*tree, Req({"debug.log"}, "/x")).status().code() == Code::kNotFound);
  CHECK(Paths(Entries(*tree, Req({"*"}, "/w/"))) == Names{"w", "w/app.c", "w/keep.txt"});
  Result<std::unique_ptr<SourceTree>> stage = OpenStageTree("stage", ctx.path());
  REQUIRE(stage.ok());
  CHECK(Paths(Entries(**stage, Req({"debug.log"}, "/x"))) == Names{"x"});
}

TEST_CASE("heredoc sources become files with their text", "[copy]") {
  TempDir ctx;
  auto tree = Context(ctx.path());
  CopyRequest r = Req({}, "/usr/bin/");
  r.inline_sources = {{"hello", "#!/bin/sh\necho hi\n"}};
  r.chmod = Mode("0755");
  auto m = Entries(*tree, r);
  CHECK(Paths(m) == Names{"usr", "usr/bin", "usr/bin/hello"});
  CHECK(Text(m.at("usr/bin/hello")) == "#!/bin/sh\necho hi\n");
  CHECK(m.at("usr/bin/hello").mode == 0755);
  r = Req({}, "/etc/motd");
  r.inline_sources = {{"EOF", "hi\n"}};
  CHECK(Entries(*tree, r).at("etc/motd").mode == 0644);
}

TEST_CASE("planned entries make a valid layer", "[copy]") {
  TempDir ctx, out;
  ctx.Write("dir/a", "shared");
  REQUIRE(::link((ctx / "dir/a").c_str(), (ctx / "dir/b").c_str()) == 0);
  REQUIRE(::symlink("a", (ctx / "dir/l").c_str()) == 0);
  auto tree = Context(ctx.path());
  Result<CopyResult> r = PlanCopy(*tree, Req({"dir"}, "/opt/app/"));
  REQUIRE(r.ok());
  CHECK(r->files == 1);
  CHECK(r->bytes == 6);
  layer::test::WriteLayerFile(out / "layer.tar.gz", r->entries, layer::LayerOptions{});
  layer::test::Run t =
      Sh("tar -tzvf " + Q(out / "layer.tar.gz") + " | awk '{print $1, $6, $7, $8}'");
  REQUIRE(t.code == 0);
  CHECK(t.out ==
        "drwxr-xr-x opt/  \n"
        "drwxr-xr-x opt/app/  \n"
        "-rw-r--r-- opt/app/a  \n"
        "hrw-r--r-- opt/app/b link to\n"
        "lrwxrwxrwx opt/app/l -> a\n");
}

// ---- --chown names ----

TEST_CASE("ResolveChown maps names through the stage's passwd and group", "[copy][chown]") {
  TempDir root;
  root.Write("etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n");
  root.Write("etc/group", "root:x:0:\nstaff:x:50:app\n");
  auto own = [&](const char* spec) {
    Result<Owner> o = ResolveChown(spec, root.path());
    INFO(spec << ": " << o.status().ToString());
    REQUIRE(o.ok());
    return std::make_pair(o->uid, o->gid);
  };
  CHECK(own("") == std::make_pair(0u, 0u));
  CHECK(own("1234") == std::make_pair(1234u, 1234u));
  CHECK(own("1234:55") == std::make_pair(1234u, 55u));
  CHECK(own("app") == std::make_pair(1000u, 1001u));
  CHECK(own("app:staff") == std::make_pair(1000u, 50u));
  CHECK(own("app:7") == std::make_pair(1000u, 7u));
  CHECK(own("7:staff") == std::make_pair(7u, 50u));
  CHECK(own(":") == std::make_pair(0u, 0u));  // --chown=${UNSET}:${UNSET}
  CHECK(own("app:") == std::make_pair(1000u, 1001u));
  Result<Owner> bad = ResolveChown("nobody", root.path());
  CHECK(bad.status().message() == "unable to find user nobody: no matching entries in passwd file");
  CHECK(ResolveChown("app:wheel", root.path()).status().message() ==
        "unable to find group wheel: no matching entries in group file");
  // scratch: only numbers.
  CHECK(ResolveChown("app", "").status().message() ==
        "unable to find user app: no matching entries in passwd file");
  CHECK(ResolveChown("1:2", "").ok());
}

TEST_CASE("ResolveChown reads /etc/passwd confined to the stage's root", "[copy][chown]") {
  TempDir root, outside;
  outside.Write("passwd", "evil:x:66:66::/:/bin/sh\n");
  root.Write("etc/.keep", "");
  root.Write("inside/passwd", "good:x:42:43::/:/bin/sh\n");
  // A link that climbs out of the root resolves inside it (and finds nothing).
  REQUIRE(::symlink(("../../../../../../../../" + outside.path() + "/passwd").c_str(),
                    (root / "etc/passwd").c_str()) == 0);
  CHECK_FALSE(ResolveChown("evil", root.path()).ok());
  // A link within the root is followed.
  REQUIRE(::unlink((root / "etc/passwd").c_str()) == 0);
  REQUIRE(::symlink("/inside/passwd", (root / "etc/passwd").c_str()) == 0);
  Result<Owner> o = ResolveChown("good", root.path());
  REQUIRE(o.ok());
  CHECK(o->uid == 42);
  CHECK(o->gid == 43);
}

// ---- cache keys and the stat index ----

TEST_CASE("CopySourcesKey follows contents, modes and the request, not times", "[copy][key]") {
  TempDir ctx;
  ctx.Write("dir/a", "a");
  ctx.Write("dir/b", "b");
  auto key = [&](const CopyRequest& r) {
    auto tree = Context(ctx.path());
    Result<Digest> k = CopySourcesKey(*tree, r);
    INFO(k.status().ToString());
    REQUIRE(k.ok());
    return k->str();
  };
  CopyRequest r = Req({"dir"}, "/d");
  std::string k0 = key(r);
  CHECK(key(r) == k0);
  SetMtime(ctx / "dir/a", 1000);
  CHECK(key(r) == k0);
  ctx.Write("dir/a", "A");
  std::string k1 = key(r);
  CHECK(k1 != k0);
  REQUIRE(::chmod((ctx / "dir/a").c_str(), 0600) == 0);
  std::string k2 = key(r);
  CHECK(k2 != k1);
  ctx.Write("dir/c", "c");
  std::string k3 = key(r);
  CHECK(k3 != k2);
  REQUIRE(::symlink("a", (ctx / "dir/l").c_str()) == 0);
  std::string k4 = key(r);
  CHECK(k4 != k3);
  r.dest = "/other";
  CHECK(key(r) != k4);
  r.dest = "/d";
  r.chmod = Mode("0700");
  CHECK(key(r) != k4);
  // A file outside the sources changes nothing.
  r.chmod.reset();
  ctx.Write("unrelated", "u");
  CHECK(key(r) == k4);
}

TEST_CASE("the content key follows what the layer holds", "[copy][key]") {
  TempDir ctx;
  ctx.Write("f", "one");
  auto plan = [&] {
    auto tree = Context(ctx.path());
    Result<CopyResult> r = PlanCopy(*tree, Req({"f"}, "/f"));
    REQUIRE(r.ok());
    return r->content_key.str();
  };
  std::string a = plan();
  CHECK(plan() == a);
  ctx.Write("f", "two");
  CHECK(plan() != a);
}

// Makes `n` small files (and optionally one large) with mtimes an hour ago.
void MakeManyFiles(TempDir& ctx, int n, size_t large = 0) {
  time_t old = ::time(nullptr) - 3600;
  for (int i = 0; i < n; ++i) {
    std::string rel = "src/d" + std::to_string(i % 20) + "/f" + std::to_string(i) + ".txt";
    ctx.Write(rel, "file " + std::to_string(i) + "\n");
    SetMtime(ctx / rel, old);
  }
  if (large > 0) {
    layer::test::PatternSource src(large, 7);
    std::string path = ctx / "big.bin";
    layer::test::FileSink sink(path);
    std::vector<char> buf(1 << 20);
    while (true) {
      size_t k = *src.Read(buf.data(), buf.size());
      if (k == 0) break;
      REQUIRE(sink.Write(buf.data(), k).ok());
    }
  }
  if (large > 0) SetMtime(ctx / "big.bin", old);
}

TEST_CASE("a stage tree with an index hashes its files once across builds", "[copy][index]") {
  TempDir root, state;
  root.Write("app/a", "a");
  root.Write("app/b", "bb");
  SetMtime(root / "app/a", 1000000000);  // as extracted layers' files are: old
  SetMtime(root / "app/b", 1000000000);
  std::string index = state / "chain.digests";
  CopyRequest r = Req({"/app"}, "/out/");
  Result<std::unique_ptr<SourceTree>> cold = OpenStageTree("stage build", root.path(), index);
  REQUIRE(cold.ok());
  auto first = Entries(**cold, r);
  CHECK((*cold)->stats().hashed == 2);
  REQUIRE(SaveIndex(**cold).ok());
  Result<std::unique_ptr<SourceTree>> warm = OpenStageTree("stage build", root.path(), index);
  REQUIRE(warm.ok());
  auto second = Entries(**warm, r);
  CHECK((*warm)->stats().hashed == 0);
  CHECK((*warm)->stats().index_hits == 2);
  CHECK(second.size() == first.size());
  // Without an index every tree hashes again.
  Result<std::unique_ptr<SourceTree>> plain = OpenStageTree("stage build", root.path());
  REQUIRE(plain.ok());
  Entries(**plain, r);
  CHECK((*plain)->stats().hashed == 2);
}

TEST_CASE("the stat index makes a no-op key stat-only across processes", "[copy][index]") {
  TempDir ctx, state;
  MakeManyFiles(ctx, 2000, 100u << 20);
  std::string index = state / "context/index.json";
  CopyRequest r = Req({"."}, "/app");

  auto cold = Context(ctx.path(), "", index);
  Result<Digest> k0 = CopySourcesKey(*cold, r);
  REQUIRE(k0.ok());
  CHECK(cold->stats().hashed == 2001);
  REQUIRE(SaveIndex(*cold).ok());

  // A new tree (as in the next build) answers from the index.
  auto t0 = std::chrono::steady_clock::now();
  auto warm = Context(ctx.path(), "", index);
  Result<Digest> k1 = CopySourcesKey(*warm, r);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(k1.ok());
  CHECK(*k1 == *k0);
  CHECK(warm->stats().hashed == 0);
  CHECK(warm->stats().index_hits == 2001);
  WARN("warm no-op CopySourcesKey over 2,000 files + 100 MiB (index load included): " << ms
                                                                                      << " ms");
  CHECK(ms < 500);  // target well under 50 ms; generous here for loaded CI machines

  // One changed file is the only one read.
  ctx.Write("src/d3/f3.txt", "changed\n");
  auto one = Context(ctx.path(), "", index);
  Result<Digest> k2 = CopySourcesKey(*one, r);
  REQUIRE(k2.ok());
  CHECK(*k2 != *k0);
  CHECK(one->stats().hashed == 1);
}

TEST_CASE("the stat index does not trust files modified in the second of their stat",
          "[copy][index]") {
  TempDir ctx, state;
  std::string index = state / "index.json";
  ctx.Write("old", "o");
  SetMtime(ctx / "old", ::time(nullptr) - 100);
  ctx.Write("racy", "r");
  SetMtime(ctx / "racy", ::time(nullptr) + 5);  // as if written just now, in the same second
  CopyRequest r = Req({"."}, "/");
  auto first = Context(ctx.path(), "", index);
  REQUIRE(CopySourcesKey(*first, r).ok());
  CHECK(first->stats().hashed == 2);
  REQUIRE(SaveIndex(*first).ok());
  auto second = Context(ctx.path(), "", index);
  REQUIRE(CopySourcesKey(*second, r).ok());
  CHECK(second->stats().hashed == 1);  // "racy" again, "old" from the index
  CHECK(second->stats().index_hits == 1);
}

TEST_CASE("the stat index ignores a corrupt or foreign index file", "[copy][index]") {
  TempDir ctx, state;
  ctx.Write("f", "f");
  SetMtime(ctx / "f", ::time(nullptr) - 100);
  std::string index = state / "index.json";
  layer::test::WriteFile(index, "not json\n[1,2]\n");
  auto t = Context(ctx.path(), "", index);
  REQUIRE(CopySourcesKey(*t, Req({"f"}, "/f")).ok());
  CHECK(t->stats().hashed == 1);
  REQUIRE(SaveIndex(*t).ok());
  // Another directory does not use this one's index.
  TempDir other;
  other.Write("f", "f");
  auto o = Context(other.path(), "", index);
  REQUIRE(CopySourcesKey(*o, Req({"f"}, "/f")).ok());
  CHECK(o->stats().hashed == 1);
}

// ---- ADD ----

TEST_CASE("ADD unpacks local tar archives of every compression, by content", "[copy][add]") {
  TempDir ctx, work, src;
  src.Write("pkg/bin/tool", "tool");
  src.Write("pkg/README", "readme");
  REQUIRE(::chmod((src / "pkg/bin/tool").c_str(), 0755) == 0);
  std::string tar = "tar --owner=1000 --group=1000 --numeric-owner -C " + Q(src.path());
  REQUIRE(Sh(tar + " -cf " + Q(ctx / "plain.tar") + " pkg").code == 0);
  REQUIRE(Sh(tar + " -czf " + Q(ctx / "data.bin") + " pkg").code == 0);  // the name says nothing
  REQUIRE(Sh(tar + " -cjf " + Q(ctx / "a.tar.bz2") + " pkg").code == 0);
  REQUIRE(Sh(tar + " -cJf " + Q(ctx / "a.tar.xz") + " pkg").code == 0);
  REQUIRE(Sh(tar + " --zstd -cf " + Q(ctx / "a.tar.zst") + " pkg").code == 0);
  auto tree = Context(ctx.path());
  for (const char* archive : {"plain.tar", "data.bin", "a.tar.bz2", "a.tar.xz", "a.tar.zst"}) {
    INFO(archive);
    CopyRequest r = Req({archive}, "/opt");
    r.is_add = true;
    r.work_dir = work.path();
    auto m = Entries(*tree, r);
    CHECK(Paths(m) == Names{"opt", "opt/pkg", "opt/pkg/README", "opt/pkg/bin", "opt/pkg/bin/tool"});
    CHECK(m.at("opt").mode == 0755);
    CHECK(m.at("opt/pkg/bin/tool").mode == 0755);
    CHECK(m.at("opt/pkg/bin/tool").uid == 1000);  // the archive's owners
    CHECK(Text(m.at("opt/pkg/bin/tool")) == "tool");
    // --chown wins over the archive's owners.
    r.chown = Owner{3, 4};
    CHECK(Entries(*tree, r).at("opt/pkg/README").uid == 3);
  }
  // COPY never unpacks; ADD --unpack=false neither.
  CHECK(Paths(Entries(*tree, Req({"plain.tar"}, "/opt/"))) == Names{"opt", "opt/plain.tar"});
  CopyRequest no = Req({"plain.tar"}, "/opt/");
  no.is_add = true;
  no.unpack = false;
  CHECK(Paths(Entries(*tree, no)) == Names{"opt", "opt/plain.tar"});
}

TEST_CASE("ADD copies compressed files that are not tar archives as they are", "[copy][add]") {
  TempDir ctx, work;
  ctx.Write("notes.txt", "just text\n");
  REQUIRE(Sh("gzip -k " + Q(ctx / "notes.txt")).code == 0);
  auto tree = Context(ctx.path());
  CopyRequest r = Req({"notes.txt.gz"}, "/d/");
  r.is_add = true;
  r.work_dir = work.path();
  auto m = Entries(*tree, r);
  CHECK(Paths(m) == Names{"d", "d/notes.txt.gz"});
}

TEST_CASE("ADD of a URL fetches it with its name, Last-Modified and --checksum", "[copy][add]") {
  TempDir served, ctx, work;
  served.Write("files/tool.sh", "#!/bin/sh\necho tool\n");
  SetMtime(served / "files/tool.sh", 1400000000);
  test::HttpServer server(served.path());
  std::string url = server.Url("files/tool.sh");
  Digest want = DigestOf("#!/bin/sh\necho tool\n");
  auto tree = Context(ctx.path());

  CopyRequest r = Req({url}, "/usr/local/bin/");
  r.is_add = true;
  r.work_dir = work.path();
  auto m = Entries(*tree, r);
  CHECK(Paths(m) == Names{"usr", "usr/local", "usr/local/bin", "usr/local/bin/tool.sh"});
  const Entry& e = m.at("usr/local/bin/tool.sh");
  CHECK(Text(e) == "#!/bin/sh\necho tool\n");
  CHECK(e.mode == 0600);
  CHECK(e.mtime == 1400000000);

  // Without --checksum the key needs the content; with it, no fetch at all.
  Result<Digest> k = CopySourcesKey(*tree, r);
  REQUIRE(k.ok());
  r.checksum = want;
  CHECK(Entries(*tree, r).count("usr/local/bin/tool.sh") == 1);
  r.dest = "/tool";
  CHECK(Entries(*tree, r).count("tool") == 1);  // a destination without "/" is the file
  r.checksum = DigestOf("something else");
  Result<CopyResult> bad = PlanCopy(*tree, r);
  CHECK(bad.status().code() == Code::kDigestInvalid);
  CHECK(bad.status().message().find(url) != std::string::npos);

  TempDir other_work;
  r.work_dir = other_work.path();
  r.checksum = want;
  server.Stop();
  Result<Digest> offline = CopySourcesKey(*tree, r);
  CHECK(offline.ok());

  CopyRequest local = Req({"a"}, "/x");
  local.is_add = true;
  local.checksum = want;
  CHECK(PlanCopy(*tree, local).status().message().find("checksum can't be specified") !=
        std::string::npos);

  CopyRequest copy = Req({url}, "/x");
  CHECK(PlanCopy(*tree, copy).status().message().find("source can't be a URL for COPY") !=
        std::string::npos);
}

TEST_CASE("ADD of a missing URL names it", "[copy][add]") {
  TempDir served, ctx, work;
  test::HttpServer server(served.path());
  auto tree = Context(ctx.path());
  CopyRequest r = Req({server.Url("nope.tgz")}, "/x");
  r.is_add = true;
  r.work_dir = work.path();
  Result<CopyResult> p = PlanCopy(*tree, r);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().message().find("nope.tgz") != std::string::npos);
  CHECK(p.status().message().find("404") != std::string::npos);
}

TEST_CASE("URL file names and HTTP dates", "[copy][add]") {
  CHECK(UrlFileName("https://example.com/a/b/tool.tar.gz?x=1#f") == "tool.tar.gz");
  CHECK(UrlFileName("https://example.com/") == "__unnamed__");
  CHECK(UrlFileName("https://example.com") == "__unnamed__");
  CHECK(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK_FALSE(ParseHttpDate("yesterday").has_value());
}

TEST_CASE("ADD of a git repository checks out the ref without .git", "[copy][add][git]") {
  test::GitRepo repo;
  std::string v1 = repo.Commit({{"README", "v1\n"}, {"sub/code.c", "int x;\n"}}, "one");
  repo.Git("tag v1");
  std::string v2 = repo.Commit({{"README", "v2\n"}}, "two");
  TempDir ctx, work;
  auto tree = Context(ctx.path());
  std::string url = "file://" + repo.path();
  auto add = [&](const std::string& src, bool keep) {
    CopyRequest r = Req({src}, "/src");
    r.is_add = true;
    r.work_dir = work.path();
    r.keep_git_dir = keep;
    return r;
  };
  auto m = Entries(*tree, add(url + "#v1", false));
  CHECK(Paths(m) == Names{"src", "src/README", "src/sub", "src/sub/code.c"});
  CHECK(Text(m.at("src/README")) == "v1\n");
  CHECK(m.at("src/README").uid == 0);
  CHECK(Text(Entries(*tree, add(url + "#main", false)).at("src/README")) == "v2\n");
  CHECK(Paths(Entries(*tree, add(url + "#v1:sub", false))) == Names{"src", "src/code.c"});
  CHECK(Entries(*tree, add(url + "#" + v1, true)).count("src/.git/HEAD") == 1);

  // Keys follow the commit the ref names.
  auto key = [&](const std::string& src) {
    Result<Digest> k = CopySourcesKey(*tree, add(src, false));
    INFO(k.status().ToString());
    REQUIRE(k.ok());
    return k->str();
  };
  std::string main_key = key(url + "#main");
  std::string head_key = key(url);
  CHECK(key(url + "#main") == main_key);
  CHECK(key(url + "#v1") != main_key);
  std::string v3 = repo.Commit({{"README", "v3\n"}}, "three");
  CHECK(key(url + "#main") != main_key);
  CHECK(key(url) != head_key);
  CHECK(v2 != v3);
  Result<Digest> missing = CopySourcesKey(*tree, add(url + "#nope", false));
  CHECK(missing.status().code() == Code::kNotFound);
}

}  // namespace
}  // namespace hoist::engine
