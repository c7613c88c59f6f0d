// Build contexts: directories, tarballs, stdin (tar or Dockerfile), git
// repositories and remote URLs, with -f and .dockerignore.
#include "builder/engine/context.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "tests/engine/copy_helpers.h"

namespace hoist::engine {
namespace {

using test::Q;
using test::Sh;
using test::TempDir;

std::unique_ptr<BuildContext> Open(const std::string& spec, const std::string& flag,
                                   const std::string& work, int fd = 0) {
  Result<std::unique_ptr<BuildContext>> c = OpenContext(spec, flag, work, fd);
  INFO(spec << ": " << c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

// An open descriptor of `path`, closed at scope end.
class Fd {
 public:
  explicit Fd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
  }
  ~Fd() { ::close(fd_); }
  int get() const { return fd_; }

 private:
  int fd_;
};

TEST_CASE("a directory context is used in place with its Dockerfile and ignore file", "[context]") {
  TempDir ctx, work;
  ctx.Write("Dockerfile", "FROM scratch\n");
  ctx.Write(".dockerignore", "*.log\n");
  ctx.Write("app.c", "c");
  auto c = Open(ctx.path(), "", work.path());
  CHECK(c->dir == std::filesystem::canonical(ctx.path()).string());
  CHECK(c->dockerfile_text == "FROM scratch\n");
  CHECK(c->dockerfile_name == "Dockerfile");
  CHECK(c->dockerfile_path == c->dir + "/Dockerfile");
  CHECK(c->ignore_file == c->dir + "/.dockerignore");
  CHECK(c->ignore.Excluded("x.log"));
  REQUIRE(c->index_id.has_value());
  CHECK(*c->index_id == DigestOf(c->dir));
  CHECK(c->temp_dirs.empty());
}

TEST_CASE("the -f flag names the Dockerfile and <Dockerfile>.dockerignore wins", "[context]") {
  TempDir ctx, work, elsewhere;
  ctx.Write("build/Dockerfile.dev", "FROM scratch AS dev\n");
  ctx.Write("build/Dockerfile.dev.dockerignore", "secret\n");
  ctx.Write(".dockerignore", "other\n");
  elsewhere.Write("Abs.Dockerfile", "FROM scratch AS abs\n");
  auto c = Open(ctx.path(), "build/Dockerfile.dev", work.path());
  CHECK(c->dockerfile_text == "FROM scratch AS dev\n");
  CHECK(c->dockerfile_name == "build/Dockerfile.dev");
  CHECK(c->ignore.Excluded("secret"));
  CHECK_FALSE(c->ignore.Excluded("other"));
  CHECK(Open(ctx.path(), elsewhere / "Abs.Dockerfile", work.path())->dockerfile_text ==
        "FROM scratch AS abs\n");
  // Relative to the current directory when it exists there (the docker CLI).
  std::string rel = std::filesystem::relative(elsewhere / "Abs.Dockerfile").string();
  CHECK(Open(ctx.path(), rel, work.path())->dockerfile_text == "FROM scratch AS abs\n");
  Result<std::unique_ptr<BuildContext>> missing = OpenContext(ctx.path(), "nope", work.path());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message() ==
        "failed to read dockerfile: open nope: no such file or directory");
}

TEST_CASE("a tarball context is unpacked and removed with the context", "[context]") {
  TempDir src, work, files;
  src.Write("Dockerfile", "FROM scratch\nCOPY a /\n");
  src.Write("a", "a");
  src.Write("sub/b", "b");
  std::string base = "tar -C " + Q(src.path());
  REQUIRE(Sh(base + " -cf " + Q(files / "ctx.tar") + " .").code == 0);
  REQUIRE(Sh(base + " -czf " + Q(files / "ctx.tgz") + " .").code == 0);
  REQUIRE(Sh(base + " --zstd -cf " + Q(files / "ctx.tar.zst") + " .").code == 0);
  REQUIRE(Sh(base + " -cJf " + Q(files / "ctx.data") + " .").code == 0);
  for (const char* name : {"ctx.tar", "ctx.tgz", "ctx.tar.zst", "ctx.data"}) {
    INFO(name);
    std::string dir;
    {
      auto c = Open(files / name, "", work.path());
      dir = c->dir;
      CHECK(c->dockerfile_text == "FROM scratch\nCOPY a /\n");
      CHECK(test::ReadFile(c->dir + "/sub/b") == "b");
      CHECK_FALSE(c->index_id.has_value());
      CHECK(dir.rfind(work.path(), 0) == 0);
    }
    CHECK_FALSE(layer::test::Exists(dir));
  }
  files.Write("plain.txt", "not an archive");
  Result<std::unique_ptr<BuildContext>> bad = OpenContext(files / "plain.txt", "", work.path());
  CHECK(bad.status().code() == Code::kInvalidArgument);
}

TEST_CASE("stdin gives a tar context or, when it is text, a Dockerfile", "[context]") {
  TempDir src, work, files;
  src.Write("Dockerfile", "FROM scratch\n");
  src.Write("a", "a");
  REQUIRE(Sh("tar -C " + Q(src.path()) + " -czf " + Q(files / "ctx.tgz") + " .").code == 0);
  {
    Fd fd(files / "ctx.tgz");
    auto c = Open("-", "", work.path(), fd.get());
    CHECK(test::ReadFile(c->dir + "/a") == "a");
    CHECK(c->dockerfile_text == "FROM scratch\n");
  }
  files.Write("Dockerfile.txt", "FROM scratch\nLABEL a=b\n");
  {
    Fd fd(files / "Dockerfile.txt");
    auto c = Open("-", "", work.path(), fd.get());
    CHECK(c->dockerfile_text == "FROM scratch\nLABEL a=b\n");
    CHECK(c->dockerfile_path.empty());
    CHECK(std::filesystem::is_empty(c->dir));
  }
  {
    // -f - with a directory context.
    Fd fd(files / "Dockerfile.txt");
    auto c = Open(src.path(), "-", work.path(), fd.get());
    CHECK(c->dockerfile_text == "FROM scratch\nLABEL a=b\n");
    CHECK(c->dir == std::filesystem::canonical(src.path()).string());
  }
  Result<std::unique_ptr<BuildContext>> both = OpenContext("-", "-", work.path());
  CHECK(both.status().code() == Code::kInvalidArgument);
  CHECK(std::filesystem::is_empty(work.path()));  // every temp dir went with its context
}

TEST_CASE("a git context is cloned at the ref, into the subdirectory", "[context][git]") {
  test::GitRepo repo;
  std::string v1 = repo.Commit(
      {{"Dockerfile", "FROM scratch\n"}, {"app/Dockerfile", "FROM scratch AS app\n"}}, "one");
  repo.Git("tag v1");
  std::string v2 = repo.Commit({{"Dockerfile", "FROM scratch AS two\n"}}, "two");
  TempDir work;
  auto c = Open("file://" + repo.path() + "#v1", "", work.path());
  CHECK(c->dockerfile_text == "FROM scratch\n");
  CHECK(c->git_commit == v1);
  CHECK(c->git_remote == "file://" + repo.path());
  CHECK_FALSE(layer::test::Exists(c->dir + "/.git"));
  auto sub = Open("file://" + repo.path() + "#main:app", "", work.path());
  CHECK(sub->dockerfile_text == "FROM scratch AS app\n");
  CHECK(sub->git_commit == v2);
  // A local repository path with a fragment.
  auto local = Open(repo.path() + "#v1:app", "", work.path());
  CHECK(local->dockerfile_text == "FROM scratch AS app\n");
  CHECK(local->git_commit == v1);
  Result<std::unique_ptr<BuildContext>> bad =
      OpenContext("file://" + repo.path() + "#no-such-ref", "", work.path());
  CHECK(bad.status().code() == Code::kNotFound);
  bad = OpenContext("file://" + repo.path() + "#main:missing", "", work.path());
  CHECK(bad.status().code() == Code::kNotFound);
}

TEST_CASE("a remote URL context is a tarball or a Dockerfile", "[context]") {
  TempDir served, src, work;
  src.Write("Dockerfile", "FROM scratch AS remote\n");
  REQUIRE(Sh("tar -C " + Q(src.path()) + " -czf " + Q(served / "ctx.tgz") + " .").code == 0);
  served.Write("Dockerfile", "FROM scratch AS plain\n");
  test::HttpServer server(served.path());
  CHECK(Open(server.Url("ctx.tgz"), "", work.path())->dockerfile_text ==
        "FROM scratch AS remote\n");
  CHECK(Open(server.Url("Dockerfile"), "", work.path())->dockerfile_text ==
        "FROM scratch AS plain\n");
}

TEST_CASE("a missing context is kNotFound naming it", "[context]") {
  TempDir work;
  Result<std::unique_ptr<BuildContext>> c = OpenContext("/no/such/dir", "", work.path());
  CHECK(c.status().code() == Code::kNotFound);
  CHECK(c.status().message().find("/no/such/dir") != std::string::npos);
}

}  // namespace
}  // namespace hoist::engine
