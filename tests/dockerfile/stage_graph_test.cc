// The stage graph: needed stages, waves, cycles.
#include "builder/dockerfile/stage_graph.h"

#include <catch2/catch.hpp>

namespace hoist::dockerfile {
namespace {

TEST_CASE("needed stages follow bases and dependencies", "[graph]") {
  StageGraph g(5);
  g.SetBase(2, 0);
  g.AddDep(2, 1);
  g.AddDep(4, 2);
  g.AddDep(4, 2);  // a repeated dependency is recorded once
  CHECK(g.deps(4).size() == 1);
  CHECK(g.Needed(4) == std::vector<size_t>{0, 1, 2, 4});
  CHECK(g.Needed(3) == std::vector<size_t>{3});
}

TEST_CASE("waves group stages that do not depend on each other", "[graph]") {
  StageGraph g(6);
  g.SetBase(2, 0);
  g.AddDep(3, 1);
  g.AddDep(5, 2);
  g.AddDep(5, 3);
  g.AddDep(5, 4);
  std::vector<std::vector<size_t>> waves = g.Waves({0, 1, 2, 3, 4, 5});
  REQUIRE(waves.size() == 3);
  CHECK(waves[0] == std::vector<size_t>{0, 1, 4});
  CHECK(waves[1] == std::vector<size_t>{2, 3});
  CHECK(waves[2] == std::vector<size_t>{5});
  CHECK(g.Waves({0, 4}) == std::vector<std::vector<size_t>>{{0, 4}});
}

TEST_CASE("cycles through dependencies are found", "[graph]") {
  StageGraph g(4);
  g.AddDep(0, 2);
  g.AddDep(2, 3);
  g.AddDep(3, 0);
  CHECK(g.FindCycle() == std::vector<size_t>{0, 2, 3, 0});
  StageGraph self(1);
  self.AddDep(0, 0);
  CHECK(self.FindCycle() == std::vector<size_t>{0, 0});
  StageGraph dag(3);
  dag.AddDep(2, 1);
  dag.AddDep(2, 0);
  dag.AddDep(1, 0);
  CHECK(dag.FindCycle().empty());
}

TEST_CASE("a long chain needs no recursion", "[graph]") {
  StageGraph g(100000);
  for (size_t i = 1; i < g.size(); ++i) g.AddDep(i, i - 1);
  CHECK(g.FindCycle().empty());
  CHECK(g.Needed(g.size() - 1).size() == g.size());
}

}  // namespace
}  // namespace hoist::dockerfile
