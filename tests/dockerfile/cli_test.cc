// `hoist dockerfile parse` and `hoist build --print-plan` as a user runs
// them: output, diagnostics and exit codes (0 valid, 1 invalid, 2 usage).
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/dockerfile/hoist_cli.h"
#include "tests/dockerfile/testdata.h"

namespace hoist::dockerfile {
namespace {

namespace fs = std::filesystem;
using testing::Run;
using testing::Workdir;

TEST_CASE("dockerfile parse: valid file exits 0 with a summary", "[cli]") {
  Workdir w;
  w.Write("Dockerfile", "FROM alpine AS a\nRUN true\nFROM a\n");
  Run r = w.Hoist("dockerfile parse Dockerfile");
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("Dockerfile: valid, 3 instruction(s), 2 stage(s)"));
}

TEST_CASE("dockerfile parse --dump prints BuildKit's dump", "[cli]") {
  Workdir w;
  fs::path df = testing::TestdataDir() / "parser-cases" / "env" / "Dockerfile";
  Run r = w.Hoist("dockerfile parse --dump '" + df.string() + "'");
  CHECK(r.rc == 0);
  CHECK(r.out == testing::ReadFile(df.parent_path() / "result"));
}

TEST_CASE("dockerfile parse --json has the instructions and the stage graph", "[cli]") {
  Workdir w;
  w.Write("Dockerfile", "ARG V=1\nFROM scratch AS a\nFROM scratch\nCOPY --from=a / /\n");
  Run r = w.Hoist("dockerfile parse --json --build-arg V=2 Dockerfile");
  REQUIRE(r.rc == 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["stages"].size() == 2);
  CHECK(j["meta_args"][0]["args"][0]["key"] == "V");
  CHECK(j["plan"]["global_args"]["V"] == "2");
  CHECK(j["plan"]["stages"][1]["deps"][0]["stage"] == 0);
  CHECK(j["plan"]["waves"].size() == 2);
}

TEST_CASE("dockerfile parse: invalid file exits 1 with FILE:LINE:COL and a caret", "[cli]") {
  Workdir w;
  w.Write("Dockerfile", "FROM alpine\nCOPY --form=x a b\n");
  Run r = w.Hoist("dockerfile parse Dockerfile");
  CHECK(r.rc == 1);
  CHECK(r.err ==
        "Dockerfile:2:6: unknown flag: --form (did you mean from?)\n"
        "  COPY --form=x a b\n"
        "       ^\n");
}

TEST_CASE("dockerfile parse: usage errors exit 2", "[cli]") {
  Workdir w;
  w.Write("Dockerfile", "FROM alpine\n");
  CHECK(w.Hoist("dockerfile parse missing-file").rc == 2);
  CHECK(w.Hoist("dockerfile parse").rc == 2);
  CHECK(w.Hoist("dockerfile parse --bogus Dockerfile").rc == 2);
  CHECK(w.Hoist("dockerfile parse --platform linux/* Dockerfile").rc == 2);
  CHECK(w.Hoist("dockerfile parse --build-arg =x Dockerfile").rc == 2);
}

TEST_CASE("dockerfile parse reads stdin", "[cli]") {
  Workdir w;
  w.Write("in", "FROM a\nRUN b\n");
  Run r = w.Hoist("dockerfile parse --dump - < in");
  CHECK(r.rc == 0);
  CHECK(r.out == "(from \"a\")\n(run \"b\")\n");
}

TEST_CASE("build --print-plan prints the pruned stage graph", "[cli]") {
  Workdir w;
  w.Write("ctx/Dockerfile",
          "FROM alpine AS a\nFROM alpine AS b\nFROM alpine AS unused\nFROM scratch\n"
          "COPY --from=a / /\nCOPY --from=b / /\n");
  w.Write("ctx/.dockerignore", "*.log\n");
  Run r = w.Hoist("build --print-plan --build-arg X=1 ctx");
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("wave 1 (parallel): [0] a, [1] b"));
  CHECK_THAT(r.out, Catch::Contains("pruned (not needed by stage-3): [2] unused"));
  CHECK_THAT(r.out, Catch::Contains(".dockerignore: ctx/.dockerignore, 1 pattern(s)"));
  CHECK_THAT(r.err, Catch::Contains("build-args [X] were not consumed"));
  Run t = w.Hoist(
      "build --print-plan --target b -f ctx/Dockerfile --platform linux/arm64,linux/amd64 ctx");
  CHECK(t.rc == 0);
  CHECK_THAT(t.out, Catch::Contains("== platform linux/arm64"));
  CHECK_THAT(t.out, Catch::Contains("target: [1] b for linux/amd64"));
  Run j = w.Hoist("build --print-plan --json ctx");
  REQUIRE(j.rc == 0);
  CHECK(nlohmann::json::parse(j.out)["plans"][0]["target"]["index"] == 3);
}

TEST_CASE("build: usage errors exit 2, --print-plan errors 1", "[cli]") {
  Workdir w;
  w.Write("Dockerfile", "FROM alpine\n");
  Run r = w.Hoist("build --push .");  // the build itself is tests/engine's
  CHECK(r.rc == 2);
  CHECK(r.err == "hoist build: --push needs at least one -t REF\n");
  CHECK(w.Hoist("build --print-plan missing-dir").rc == 2);
  w.Write("bad/Dockerfile", "FROM alpine AS a\nCOPY --from=a / /\n");
  Run bad = w.Hoist("build --print-plan bad");
  CHECK(bad.rc == 1);
  CHECK_THAT(bad.err, Catch::Contains("circular dependency detected on stage: a"));
  Run target = w.Hoist("build --print-plan --target nope .");
  CHECK(target.rc == 1);
  CHECK_THAT(target.err, Catch::Contains("target stage \"nope\" could not be found"));
}

}  // namespace
}  // namespace hoist::dockerfile
