// Inputs that once crashed, hung or exhausted memory (found by the fuzzer
// or by review; see testdata/dockerfile/fuzz-regressions). Each must go
// through the whole pipeline — parse, dump, instructions, plan, JSON —
// quickly, ending in a value or an error.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/plan.h"
#include "builder/dockerfile/report.h"
#include "tests/dockerfile/testdata.h"

namespace hoist::dockerfile {
namespace {

namespace fs = std::filesystem;

TEST_CASE("fuzz regression inputs end in a value or an error, quickly", "[fuzz]") {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(testing::TestdataDir() / "fuzz-regressions"))
    files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 7);
  for (const fs::path& f : files) {
    INFO(f.filename().string());
    auto start = std::chrono::steady_clock::now();
    auto source = std::make_shared<const Source>(f.filename().string(), testing::ReadFile(f));
    Result<Ast> ast = Parse(source);
    if (ast.ok()) {
      (void)ast->Dump();
      Result<Dockerfile> df = ParseInstructions(*ast);
      if (df.ok() && !df->stages.empty()) {
        Result<BuildPlan> plan = PlanBuild(*df, PlanOptions{});
        if (plan.ok())
          (void)PlanToJson(*plan).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(seconds < 10.0);
  }
}

TEST_CASE("resource limits give clear errors", "[fuzz]") {
  auto plan_error = [](const std::string& text) {
    Result<Dockerfile> df = ParseDockerfile(std::make_shared<const Source>("Dockerfile", text));
    REQUIRE(df.ok());
    Result<BuildPlan> plan = PlanBuild(*df, PlanOptions{});
    REQUIRE_FALSE(plan.ok());
    return plan.status().message();
  };
  std::string doubling = "FROM scratch\nENV A=x\n";
  for (int i = 0; i < 30; ++i) doubling += "ENV A=$A$A\n";
  CHECK_THAT(plan_error(doubling), Catch::Contains("the expanded word is larger than 4 MiB"));
  std::string onbuild = "FROM a\n";
  for (int i = 0; i < 100; ++i) onbuild += "ONBUILD ";
  Result<Ast> ast = ParseText(onbuild + "RUN x\n");
  REQUIRE_FALSE(ast.ok());
  CHECK_THAT(ast.status().message(), Catch::Contains("too many nested ONBUILD instructions"));
}

}  // namespace
}  // namespace hoist::dockerfile
