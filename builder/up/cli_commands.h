// The `hoist up` subcommands of the `hoist` binary, as library calls so
// that cli/main.cc only wires them in:
//
//   hoist up [-f FILE] [-d] [--json]     bring up the registry and images
//   hoist down [-f FILE] [--json]        stop the registry (images are kept)
//   hoist status [-f FILE] [--json]      the registry and image table
//   hoist env [-f FILE]                  REGISTRY=host:port, for scripts
//
// FILE defaults to hoist.yaml. Exit codes: up.h.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace hoist::up {

class CliCommands {
 public:
  // Adds the subcommands to `app`, which must outlive this object.
  explicit CliCommands(CLI::App& app);

  // True when argv names one of these subcommands.
  bool Owns(int argc, char** argv) const;
  // Parses argv with `app` and runs the subcommand; returns the exit code.
  int Run(int argc, char** argv);

 private:
  CLI::App& app_;
  CLI::App *up_, *down_, *status_, *env_;
  std::string file_ = "hoist.yaml";
  bool detach_ = false;
  bool json_ = false;
};

}  // namespace hoist::up
