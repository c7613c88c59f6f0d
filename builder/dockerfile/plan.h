// Planning a build from a parsed Dockerfile, the way BuildKit's
// dockerfile2llb prepares one before it runs anything:
//   - ARG scoping: automatic platform args (BUILDPLATFORM, BUILDOS,
//     BUILDARCH, BUILDVARIANT, TARGETPLATFORM, TARGETOS, TARGETARCH,
//     TARGETVARIANT, TARGETSTAGE), ARGs before the first FROM usable in FROM
//     lines, an ARG without a default inside a stage picking up the global
//     value, --build-arg overriding defaults, proxy args passed to RUN
//     without an ARG, and a warning for build args nothing consumes;
//   - FROM names and --platform expanded with the global args;
//   - the stage graph: named and numbered stages, FROM <stage>,
//     COPY --from=<stage|index|image>, RUN --mount from=, ONBUILD triggers of
//     base stages; --target; stages the target does not need pruned;
//     independent stages grouped into waves that may run in parallel;
//     cycles and references to later stages rejected;
//   - each needed stage's instructions expanded where Docker expands them
//     (ENV, LABEL, ADD, COPY, WORKDIR, USER, VOLUME, STOPSIGNAL, EXPOSE,
//     ARG defaults, RUN --mount fields, COPY/ADD heredoc bodies);
//   - BuildKit's build checks (checks.h) run, and the build's check
//     configuration applied to them and to the file's own checks.
//
// A base image's own environment is not known before it is pulled: unless
// `base_image_env` supplies it, references to variables a stage has not
// set are kept as written ("$PATH") instead of being expanded to "".
// Pure: no I/O. Safe for concurrent use.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile/checks.h"
#include "builder/dockerfile/dockerignore.h"
#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/platform.h"
#include "builder/dockerfile/shell_lex.h"
#include "builder/dockerfile/stage_graph.h"

namespace hoist::dockerfile {

struct PlanOptions {
  std::map<std::string, std::string> build_args;  // --build-arg K=V
  std::string target;                             // --target ("" = last stage)
  std::optional<Platform> target_platform;        // --platform (default: build platform)
  Platform build_platform = HostPlatform();
  // The environment ("K=V" list) of a base image, when known; nullopt = unknown.
  std::function<std::optional<std::vector<std::string>>(const std::string& ref, const Platform&)>
      base_image_env;
  // The build context's ignore rules, for CopyIgnoredFile (null: not checked).
  const DockerIgnore* dockerignore = nullptr;
  // Also run the instruction checks on the stages the target does not
  // need, as BuildKit's `--check` does without a target (what fails there
  // is left for a build of those stages to report).
  bool check_all_stages = false;
  // buildah/podman's extensions accepted (and reported), or refused as
  // BuildKit refuses them (`--strict`).
  Dialect dialect = Dialect::kBuildah;
};

// Where a stage's base comes from.
enum class BaseKind { kImage, kStage, kScratch };

// A dependency of a stage on another stage or on an image.
struct StageDep {
  enum class Via { kCopyFrom, kMountFrom } via;
  std::optional<size_t> stage;  // a stage of this Dockerfile, or
  std::string image;            // an image reference (normalised when the stage is needed)
  int line = 0;                 // the instruction that needs it
};

struct PlannedStage {
  size_t index = 0;
  std::string name;          // the AS name ("" when unnamed)
  std::string display_name;  // name, or "stage-<index>"
  BaseKind base_kind = BaseKind::kImage;
  std::string base;      // the expanded FROM reference (or stage name, or "scratch")
  std::string base_ref;  // needed image bases: the normalised reference
  std::optional<size_t> base_stage;
  std::string platform_expr;  // --platform as written
  Platform platform;          // --platform expanded, or the target platform
  std::vector<StageDep> deps;
  bool needed = false;  // the target needs it (else pruned)
  int wave = -1;        // build wave (needed stages only)
  // Filled for needed stages: the instructions with ONBUILD triggers of the
  // base stage first, words expanded; the ARGs this stage declares and
  // their values; the variables known at the end of the stage (ARG and ENV,
  // including those inherited from a base stage).
  std::vector<Command> commands;
  std::vector<ArgDef> args;
  Env env;
  bool env_complete = false;  // false when the base image's environment is unknown
};

struct BuildPlan {
  Platform build_platform;
  Platform target_platform;
  Env global_args;                // automatic args + ARGs before FROM
  std::vector<ArgDef> meta_args;  // the ARGs before FROM, resolved
  size_t target = 0;
  std::vector<PlannedStage> stages;        // every stage, in file order
  std::vector<std::vector<size_t>> waves;  // needed stages by wave
  std::vector<std::string> unused_build_args;
  std::map<std::string, std::string> proxy_env;  // proxy build args given to RUN
  // The checks the build's configuration reports, the Dockerfile's own
  // included (see ApplyCheckConfig), then plain warnings.
  std::vector<Warning> warnings;
};

// Plans a build of `df`. Errors are positioned in the Dockerfile (an
// unknown --target has no position); a malformed check configuration and,
// with `error=true`, any reported check are errors too.
Result<BuildPlan> PlanBuild(const Dockerfile& df, const PlanOptions& options);

// The build arg that replaces the `# check=` directive (same syntax).
inline constexpr const char* kCheckBuildArg = "BUILDKIT_DOCKERFILE_CHECK";

// The check configuration of a build: BUILDKIT_DOCKERFILE_CHECK when
// `build_args` has it, else the `# check=` directive among `directives`,
// else the default. Errors (kInvalidArgument): a malformed value; the
// directive's is positioned at its line of `source`.
Result<CheckConfig> ResolveCheckConfig(const Source* source,
                                       const std::vector<Directive>& directives,
                                       const std::map<std::string, std::string>& build_args);

// What a build reports of `warnings`: the checks `config` reports (a
// `# check=` comment above the instruction a check points at adds skips:
// `comments_at` maps an instruction's first line to its comment lines),
// each once, by line; then the plain warnings. With config.error and a
// check left: kInvalidArgument "FILE: lint violation found for rules: A, B"
// followed by those checks (FormatWarning), and them as JSON detail.
Result<std::vector<Warning>> ApplyCheckConfig(
    const CheckConfig& config, const Source* source, std::vector<Warning> warnings,
    const std::map<int, std::vector<std::string>>& comments_at = {});

// Ports of EXPOSE as BuildKit records them ("80/tcp", "53/udp", ranges
// expanded); kInvalidArgument for a malformed spec.
Result<std::vector<std::string>> ParseExposedPorts(const std::vector<std::string>& specs);

// BuildKit's default PATH for Linux images without one.
inline constexpr const char* kDefaultPathEnv =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace hoist::dockerfile
