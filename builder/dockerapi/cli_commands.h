// `hoist engine`: serves the image half of the Docker Engine API (api.h)
// on a unix socket or loopback TCP, over the local content store.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "builder/transfer/cli_commands.h"

namespace hoist::dockerapi {

class CliCommands {
 public:
  // Adds `engine` to `app`. `app` must outlive this object.
  explicit CliCommands(CLI::App& app, std::string version);
  CliCommands(const CliCommands&) = delete;
  CliCommands& operator=(const CliCommands&) = delete;

  // True when argv names `engine`.
  bool Owns(int argc, char** argv) const;
  // Parses argv and serves until SIGINT/SIGTERM: 0 after a clean stop, 1
  // when it cannot listen or open the store, 2 for usage errors.
  int Run(int argc, char** argv);

  // The socket used without --socket or --addr: $XDG_RUNTIME_DIR/hoist/
  // engine.sock, else /run/hoist/engine.sock for root, else
  // /tmp/hoist-<uid>/engine.sock.
  static std::string DefaultSocket();

 private:
  CLI::App& app_;
  CLI::App* engine_ = nullptr;
  std::string version_;
  std::string socket_, addr_, registry_, root_, platform_, addr_file_;
  int jobs_ = 4;
  transfer::ConnectionFlags conn_;
};

}  // namespace hoist::dockerapi
