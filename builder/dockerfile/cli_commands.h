// The Dockerfile subcommands of the `hoist` binary, as library calls so
// cli/main.cc only wires flags: `hoist dockerfile parse` and
// `hoist build --print-plan` (the rest of `hoist build` is the build
// engine's, builder/engine/cli_commands.h). Output goes to stdout,
// diagnostics to stderr: build checks as "FILE:LINE: Rule: message"
// (checks.h), the line quoted below.
//
// Exit codes: 0 the Dockerfile is valid (and the plan was printed),
//             1 the Dockerfile (or the build it describes) is invalid, or
//               `# check=error=true` and a build check reported,
//             2 usage: bad flags or values, unreadable files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile/platform.h"

namespace hoist::dockerfile {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitUsage = 2;

struct ParseCommandOptions {
  std::string file;                     // the Dockerfile ("-" reads stdin)
  bool json = false;                    // instructions, stage graph and plan as JSON
  bool dump = false;                    // BuildKit's AST dump format
  std::vector<std::string> build_args;  // K=V (or K, taken from the environment)
  std::string target;
  std::string platform;
  bool strict = false;  // BuildKit's dialect only (no buildah/podman extensions)
};

// `hoist dockerfile parse FILE [--json] [--dump] [--build-arg K=V] [--target T] [--strict]`.
// Without --target the build checks run on every stage (BuildKit's --check).
int RunDockerfileParse(const ParseCommandOptions& options);

struct BuildCommandOptions {
  std::string context = ".";
  std::string file;                     // -f; default <context>/Dockerfile
  std::vector<std::string> build_args;  // --build-arg
  std::string target;
  std::string platform;  // --platform (comma-separated list)
  bool print_plan = false;
  bool json = false;    // with --print-plan: the plan as JSON
  bool strict = false;  // BuildKit's dialect only
};

// `hoist build [-f FILE] [--build-arg K=V] [--target T] [--platform P] --print-plan CONTEXT`.
// Without --print-plan this is a usage error (the engine builds).
int RunBuild(const BuildCommandOptions& options);

// --build-arg values: K=V, or a bare K taking its value from the
// environment (dropped when unset), as `docker build` does. nullopt after
// printing "<cmd>: invalid --build-arg ..." to stderr.
std::optional<std::map<std::string, std::string>> ParseBuildArgs(
    const std::vector<std::string>& raw, const char* cmd);
// --platform: "" (one entry, nullopt: the build platform) or a
// comma-separated list. nullopt after printing the error to stderr.
std::optional<std::vector<std::optional<Platform>>> ParsePlatformList(const std::string& raw,
                                                                      const char* cmd);

}  // namespace hoist::dockerfile
