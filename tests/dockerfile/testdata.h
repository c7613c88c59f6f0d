// Shared helpers for the Dockerfile frontend tests: the testdata root and
// whole-file reads.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace hoist::dockerfile::testing {

inline std::filesystem::path TestdataDir() {
  return HOIST_DOCKERFILE_TESTDATA;
}

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace hoist::dockerfile::testing
