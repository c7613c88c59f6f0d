// The engine end to end on scratch-based Dockerfiles (no registry needed):
// layers and config in the store, the cache, parallel stages, errors that
// name the line.
#include "builder/engine/engine.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "builder/engine/base_image.h"
#include "builder/engine/image_store.h"
#include "tests/engine/helpers.h"

namespace hoist::engine {
namespace {

using test::TempDir;

struct Fixture {
  TempDir t;
  std::unique_ptr<store::ContentStore> store;
  transfer::Places places{RegistryClientOptions{}};
  BuildProgress progress{ProgressStyle::kQuiet, stderr};

  Fixture() {
    auto s = store::ContentStore::OpenRoot(t / "store");
    REQUIRE(s.ok());
    store = std::move(*s);
  }

  Result<BuildResult> Build(const std::string& dockerfile, BuildOptions o = {}) {
    t.Write("ctx/Dockerfile", dockerfile);
    o.dockerfile = std::make_shared<const dockerfile::Source>("Dockerfile", dockerfile);
    o.context_dir = t / "ctx";
    o.context_index = t / "ctx-index.json";
    o.platform = dockerfile::Platform{"linux", "amd64", ""};
    Builder b(*store, places, progress);
    return b.Build(o);
  }

  BaseImage Load(const BuildResult& r) {
    Result<BaseImage> img = LoadStoredImage(*store, r.manifest);
    REQUIRE(img.ok());
    return std::move(*img);
  }

  std::string File(const BuildResult& r, const std::string& path) {
    RootfsCache rootfs(*store);
    Result<std::string> dir = rootfs.Materialize(Load(r).layers);
    REQUIRE(dir.ok());
    std::ifstream in(*dir + "/" + path);
    if (!in) return "<absent>";
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

TEST_CASE("engine: COPY and metadata from scratch, then all cached", "[engine]") {
  Fixture f;
  f.t.Write("ctx/a.txt", "alpha\n");
  const std::string df =
      "FROM scratch\nCOPY a.txt /a.txt\nWORKDIR /app\nENV X=1\nLABEL l=v\nCMD [\"x\"]\n";
  Result<BuildResult> r = f.Build(df);
  REQUIRE(r.ok());
  CHECK(r->steps_run == 2);  // COPY and WORKDIR's mkdir
  CHECK(r->steps_cached == 0);
  BaseImage img = f.Load(*r);
  CHECK(img.layers.size() == 2);
  CHECK(img.config.config.working_dir == "/app");
  CHECK(img.config.config.cmd == std::vector<std::string>{"x"});
  CHECK(img.config.config.labels.at("l") == "v");
  CHECK(img.config.created == "1970-01-01T00:00:00Z");
  REQUIRE(img.config.history.size() == 5);
  CHECK(img.config.history[0].created_by == "COPY a.txt /a.txt # buildkit");
  CHECK(!img.config.history[0].empty_layer);
  CHECK(img.config.history[1].created_by == "WORKDIR /app");
  CHECK(!img.config.history[1].empty_layer);
  CHECK(f.File(*r, "a.txt") == "alpha\n");

  Result<BuildResult> again = f.Build(df);
  REQUIRE(again.ok());
  CHECK(again->steps_run == 0);
  CHECK(again->steps_cached == 2);
  CHECK(again->manifest.digest == r->manifest.digest);

  BuildOptions o;
  o.no_cache = true;
  Result<BuildResult> nocache = f.Build(df, o);
  REQUIRE(nocache.ok());
  CHECK(nocache->steps_run == 2);
  CHECK(nocache->manifest.digest == r->manifest.digest);
}

TEST_CASE("engine: a changed source reruns its step and the later ones only", "[engine]") {
  Fixture f;
  f.t.Write("ctx/a.txt", "a");
  f.t.Write("ctx/b.txt", "b");
  const std::string df = "FROM scratch\nCOPY a.txt /a\nCOPY b.txt /b\n";
  REQUIRE(f.Build(df).ok());
  f.t.Write("ctx/b.txt", "b2");
  Result<BuildResult> r = f.Build(df);
  REQUIRE(r.ok());
  CHECK(r->steps_cached == 1);
  CHECK(r->steps_run == 1);
  CHECK(f.File(*r, "b") == "b2");
}

TEST_CASE("engine: independent stages, COPY --from, labels, SOURCE_DATE_EPOCH", "[engine]") {
  Fixture f;
  f.t.Write("ctx/one.txt", "1");
  f.t.Write("ctx/two.txt", "2");
  const std::string df =
      "FROM scratch AS one\nCOPY one.txt /out/one.txt\n"
      "FROM scratch AS two\nCOPY two.txt /out/two.txt\nONBUILD ENV TRIGGERED=yes\n"
      "FROM two\nCOPY --from=one /out/one.txt /merged/\nCOPY --from=1 /out/two.txt /merged/\n";
  BuildOptions o;
  o.labels["from.cli"] = "1";
  o.source_date_epoch = 1700000000;
  Result<BuildResult> r = f.Build(df, o);
  REQUIRE(r.ok());
  CHECK(r->steps_run == 4);
  BaseImage img = f.Load(*r);
  CHECK(img.config.config.labels.at("from.cli") == "1");
  CHECK(img.config.GetEnv("TRIGGERED") == "yes");
  CHECK(img.config.config.on_build.empty());
  CHECK(img.config.created == "2023-11-14T22:13:20Z");
  CHECK(f.File(*r, "merged/one.txt") == "1");
  CHECK(f.File(*r, "merged/two.txt") == "2");
  CHECK(f.File(*r, "out/two.txt") == "2");
}

TEST_CASE("engine: errors name the Dockerfile line", "[engine]") {
  Fixture f;
  f.t.Write("ctx/a.txt", "a");
  Result<BuildResult> missing = f.Build("FROM scratch\nCOPY a.txt /a\nCOPY nope.txt /n\n");
  REQUIRE(!missing.ok());
  CHECK_THAT(missing.status().message(), Catch::StartsWith("Dockerfile:3:1: COPY: "));
  CHECK_THAT(missing.status().message(), Catch::Contains("nope.txt"));

  Result<BuildResult> run = f.Build("FROM scratch\nCOPY a.txt /a\nRUN echo hi\n");
  REQUIRE(!run.ok());
  // scratch has no shell: the step cannot start (exit code 127, as sh says).
  CHECK_THAT(run.status().message(),
             Catch::StartsWith("Dockerfile:3:1: RUN: process \"/bin/sh -c echo hi\" did not "
                               "complete successfully: exit code: 127"));

  Result<BuildResult> chown = f.Build("FROM scratch\nCOPY --chown=someone a.txt /a\n");
  REQUIRE(!chown.ok());
  CHECK_THAT(chown.status().message(), Catch::StartsWith("Dockerfile:2:1: COPY: "));

  Result<BuildResult> parse = f.Build("FROM scratch\nCOPY\n");
  REQUIRE(!parse.ok());
  CHECK_THAT(parse.status().message(), Catch::Contains("Dockerfile:2"));

  Result<BuildResult> chmod = f.Build("FROM scratch\nCOPY --chmod=u+y a.txt /a\n");
  REQUIRE(!chmod.ok());
  CHECK_THAT(chmod.status().message(), Catch::Contains("Dockerfile:2:1: COPY: invalid chmod"));
}

}  // namespace
}  // namespace hoist::engine
