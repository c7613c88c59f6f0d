// Running the `hoist` binary from the frontend tests: a scratch directory
// to write files into and run `hoist` in, capturing exit code and output.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/dockerfile/testdata.h"

namespace hoist::dockerfile::testing {

struct Run {
  int rc;
  std::string out;
  std::string err;
};

class Workdir {
 public:
  Workdir()
      : dir_(std::filesystem::temp_directory_path() /
             ("hoist-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++))) {
    std::filesystem::create_directories(dir_);
  }
  ~Workdir() { std::filesystem::remove_all(dir_); }
  std::filesystem::path Write(const std::string& name, const std::string& text) const {
    std::filesystem::path p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const std::filesystem::path& path() const { return dir_; }

  // Runs hoist with `args` (already shell-quoted where needed) in this directory.
  Run Hoist(const std::string& args) const {
    std::string out = (dir_ / ".out").string(), err = (dir_ / ".err").string();
    std::string cmd = "cd '" + dir_.string() + "' && '" HOIST_BINARY "' " + args + " >'" + out +
                      "' 2>'" + err + "'";
    int status = std::system(cmd.c_str());
    Run r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(out), ReadFile(err)};
    return r;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

}  // namespace hoist::dockerfile::testing
