// Helpers for the build-engine tests: temp dirs, parsing and planning a
// Dockerfile into expanded commands.
#pragma once

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/plan.h"
#include "tests/layer/helpers.h"

namespace hoist::engine::test {

// A fresh directory, removed at scope end (tests/layer/helpers.h), with a
// file writer.
class TempDir : public layer::test::TempDir {
 public:
  // Writes `text` to rel (parents created).
  void Write(const std::string& rel, const std::string& text) const {
    std::filesystem::path p = path() + "/" + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
};

// The expanded commands of the last stage of `text` (scratch base, so
// nothing needs pulling).
inline std::vector<dockerfile::Command> StageCommands(const std::string& text) {
  auto src = std::make_shared<const dockerfile::Source>("Dockerfile", text);
  Result<dockerfile::Dockerfile> df = dockerfile::ParseDockerfile(src);
  REQUIRE(df.ok());
  Result<dockerfile::BuildPlan> plan = dockerfile::PlanBuild(*df, {});
  REQUIRE(plan.ok());
  return plan->stages.back().commands;
}

}  // namespace hoist::engine::test
