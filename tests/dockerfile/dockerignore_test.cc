// .dockerignore with Docker's pattern semantics.
#include "builder/dockerfile/dockerignore.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace hoist::dockerfile {
namespace {

DockerIgnore Ignore(std::string_view text) {
  Result<DockerIgnore> di = DockerIgnore::Parse(text);
  INFO((di.ok() ? std::string() : di.status().message()));
  REQUIRE(di.ok());
  return std::move(di).value();
}

TEST_CASE("patterns are read like ignorefile.ReadAll", "[dockerignore]") {
  Result<std::vector<std::string>> p = DockerIgnore::ReadPatterns(
      "\xEF\xBB\xBF# comment\r\n  /node_modules/  \r\n\n./build//out/\n! ./keep.log\n "
      "#x\n../up\n/\n");
  REQUIRE(p.ok());
  CHECK(*p ==
        std::vector<std::string>{"node_modules", "build/out", "!keep.log", "#x", "../up", "/"});
}

TEST_CASE("'*' and '?' stay within one path element", "[dockerignore]") {
  DockerIgnore di = Ignore("*.log\na?c\n");
  CHECK(di.Excluded("x.log"));
  CHECK_FALSE(di.Excluded("dir/x.log"));
  CHECK(di.Excluded("abc"));
  CHECK_FALSE(di.Excluded("a/c"));
}

TEST_CASE("'**' matches any number of directories", "[dockerignore]") {
  DockerIgnore di = Ignore("**/*.log\ncache/**\n**/tmp\n");
  CHECK(di.Excluded("x.log"));
  CHECK(di.Excluded("a/b/c/x.log"));
  CHECK(di.Excluded("cache/a/b"));
  CHECK_FALSE(di.Excluded("cache"));
  CHECK(di.Excluded("tmp"));
  CHECK(di.Excluded("a/b/tmp"));
  CHECK(di.Excluded("a/tmp/file"));
  CHECK_FALSE(di.Excluded("a/tmpfile"));
  CHECK(Ignore("**\n").Excluded("anything/at/all"));
}

TEST_CASE("a matching directory excludes everything below it", "[dockerignore]") {
  DockerIgnore di = Ignore("node_modules\n/build/\n");
  CHECK(di.Excluded("node_modules"));
  CHECK(di.Excluded("node_modules/a/b.js"));
  CHECK(di.Excluded("build/out.o"));
  CHECK_FALSE(di.Excluded("src/node_modules"));  // only at the root
  CHECK_FALSE(di.Excluded("node_modules2"));
}

TEST_CASE("'!' exceptions re-include, and the last matching rule wins", "[dockerignore]") {
  DockerIgnore di = Ignore("*.md\n!README.md\ndocs\n!docs/keep.txt\n");
  CHECK(di.Excluded("CHANGES.md"));
  CHECK_FALSE(di.Excluded("README.md"));
  CHECK(di.Excluded("docs/other.txt"));
  CHECK_FALSE(di.Excluded("docs/keep.txt"));
  CHECK(di.has_exceptions());
  DockerIgnore later = Ignore("!README.md\n*.md\n");
  CHECK(later.Excluded("README.md"));
  DockerIgnore again = Ignore("*.md\n!README.md\nREADME.md\n");
  CHECK(again.Excluded("README.md"));
}

TEST_CASE("filepath.Match classes and escapes", "[dockerignore]") {
  DockerIgnore di = Ignore("[a-c].txt\nfile[^0-9]\nlit\\*\n");
  CHECK(di.Excluded("b.txt"));
  CHECK_FALSE(di.Excluded("d.txt"));
  CHECK(di.Excluded("filex"));
  CHECK_FALSE(di.Excluded("file1"));
  CHECK(di.Excluded("lit*"));
  CHECK_FALSE(di.Excluded("litx"));
}

TEST_CASE("malformed patterns are errors", "[dockerignore]") {
  CHECK_FALSE(DockerIgnore::Parse("[abc\n").ok());
  CHECK_FALSE(DockerIgnore::Parse("a[]\n").ok());
  CHECK_FALSE(DockerIgnore::Parse("!\n").ok());
  CHECK_FALSE(DockerIgnore::Parse("a\\\n").ok());
  CHECK(DockerIgnore::Parse("").ok());
}

TEST_CASE("a walker can skip excluded directories no exception reaches into", "[dockerignore]") {
  CHECK(Ignore("node_modules\n").CanSkipExcludedDir("node_modules"));
  DockerIgnore keep = Ignore("vendor\n!vendor/keep/**\n");
  CHECK_FALSE(keep.CanSkipExcludedDir("vendor"));
  CHECK(keep.CanSkipExcludedDir("other"));
  CHECK_FALSE(Ignore("vendor\n!*.go\n").CanSkipExcludedDir("vendor"));
}

TEST_CASE("walking with parent results agrees with whole-path matching", "[dockerignore]") {
  DockerIgnore di = Ignore("docs\n!docs/keep\n**/*.tmp\n");
  DockerIgnore::MatchInfo root, docs, docs_keep;
  CHECK(di.ExcludedUsingParent("docs", root, &docs));
  CHECK(di.ExcludedUsingParent("docs/a", docs, &docs_keep) == di.Excluded("docs/a"));
  CHECK_FALSE(di.ExcludedUsingParent("docs/keep", docs, &docs_keep));
  DockerIgnore::MatchInfo src, out;
  CHECK_FALSE(di.ExcludedUsingParent("src", root, &src));
  CHECK(di.ExcludedUsingParent("src/x.tmp", src, &out));
}

TEST_CASE("<Dockerfile>.dockerignore beside the Dockerfile wins over the context's",
          "[dockerignore]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("hoist-dockerignore-" + std::to_string(::getpid()));
  fs::create_directories(dir / "ctx");
  fs::create_directories(dir / "df");
  std::ofstream(dir / "ctx" / ".dockerignore") << "from-context\n";
  std::string used;
  Result<DockerIgnore> a =
      LoadDockerIgnore((dir / "ctx").string(), (dir / "df" / "Dockerfile").string(), &used);
  REQUIRE(a.ok());
  CHECK(used == (dir / "ctx" / ".dockerignore").string());
  CHECK(a->Excluded("from-context"));
  std::ofstream(dir / "df" / "Dockerfile.dockerignore") << "from-dockerfile\n";
  Result<DockerIgnore> b =
      LoadDockerIgnore((dir / "ctx").string(), (dir / "df" / "Dockerfile").string(), &used);
  REQUIRE(b.ok());
  CHECK(used == (dir / "df" / "Dockerfile.dockerignore").string());
  CHECK(b->Excluded("from-dockerfile"));
  CHECK_FALSE(b->Excluded("from-context"));
  fs::remove_all(dir / "ctx" / ".dockerignore");
  fs::remove_all(dir / "df" / "Dockerfile.dockerignore");
  Result<DockerIgnore> none =
      LoadDockerIgnore((dir / "ctx").string(), (dir / "df" / "Dockerfile").string(), &used);
  REQUIRE(none.ok());
  CHECK(used.empty());
  CHECK(none->empty());
  fs::remove_all(dir);
}

TEST_CASE("paths are cleaned like Go's path.Clean", "[dockerignore]") {
  CHECK(CleanPath("") == ".");
  CHECK(CleanPath("./a//b/../c/") == "a/c");
  CHECK(CleanPath("/../a") == "/a");
  CHECK(CleanPath("../../a") == "../../a");
  CHECK(CleanPath("a/..") == ".");
}

}  // namespace
}  // namespace hoist::dockerfile
