// `hoist up`, `down`, `status` and `env` as library calls (the CLI only
// wires flags, cli_commands.h).
//
// up: read the file -> take .hoist/up.lock -> reuse the registry an earlier
// `up -d` left running (state + PID alive + /proc cmdline + health), or
// start one (retries with backoff) -> endpoint saved in state.json ->
// ready (health check) -> image jobs (runner.h) -> table and summary.
// With `detach` it returns then and the registry keeps running; without, it
// serves in the foreground (health checked every interval) until SIGINT or
// SIGTERM, then stops the registry. A first signal while images are
// being produced cancels the jobs that have not started; a second one
// ends at once.
//
// Exit codes (transfer/cli_commands.h's): 0 every image pushed, 1 an image
// or the registry failed, 2 the file is invalid (or usage).
#pragma once

#include <string>

#include "builder/up/state.h"

namespace hoist::up {

struct UpOptions {
  std::string file = "hoist.yaml";
  bool detach = false;
  bool json = false;  // events as JSON lines on stdout (no table)
};

int RunUp(const UpOptions& options);
// Stops the registry recorded in the state (only when /proc/PID/cmdline
// shows it is that registry); images stay in its storage.
int RunDown(const std::string& file, bool json);
// The registry and image table, or the state as JSON with
// registry.running.
int RunStatus(const std::string& file, bool json);
// "REGISTRY=host:port" when the registry runs; exit 1 otherwise.
int RunEnv(const std::string& file);

// The table `status` prints: a registry line, then one line per image,
// then the errors of failed images.
std::string FormatTable(const State& state, bool registry_running);

}  // namespace hoist::up
