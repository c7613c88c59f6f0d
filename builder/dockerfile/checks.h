// BuildKit's build checks (frontend/dockerfile/linter; the rules are
// documented at https://docs.docker.com/reference/build-checks/): the one
// table of rules, and the configuration that selects which of them a build
// reports.
//
// A check is a Warning whose `rule` names a row of the table and whose
// message is BuildKit's wording. Each runs where BuildKit runs it:
//   parser.cc        NoEmptyContinuation
//   instructions.cc  StageNameCasing, FromAsCasing, MaintainerDeprecated,
//                    ConsistentInstructionCasing, InvalidDefinitionDescription
//   plan.cc          on every stage: DuplicateStageName, ReservedStageName,
//                    UndefinedArgInFrom, InvalidDefaultArgInFrom,
//                    RedundantTargetPlatform, FromPlatformFlagConstDisallowed;
//                    on the instructions of each stage a build dispatches
//                    (they depend on ARG/ENV values): the other rules.
// InvalidBaseImagePlatform is not checked: it needs the pulled image.
// One rule is hoist's own: BuildahExtension (plan.cc), a use of the
// buildah/podman dialect (instructions.h, Dialect).
//
// The configuration is `# check=skip=A,B;error=true` (parser.h reads it),
// or the BUILDKIT_DOCKERFILE_CHECK build arg in the same syntax, which
// replaces the directive; a `# check=` comment directly above one
// instruction adds skipped rules for the checks of that instruction.
// PlanBuild (plan.h) applies it.
//
// Constants and plain values; safe for concurrent use.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "builder/dockerfile/ast.h"

namespace hoist::dockerfile {

struct CheckRule {
  std::string_view name;
  std::string_view description;
  bool experimental = false;  // reported only when enabled by `experimental=`
};

inline constexpr CheckRule kStageNameCasing{"StageNameCasing", "Stage names should be lowercase"};
inline constexpr CheckRule kFromAsCasing{
    "FromAsCasing", "The 'as' keyword should match the case of the 'from' keyword"};
inline constexpr CheckRule kNoEmptyContinuation{
    "NoEmptyContinuation", "Empty continuation lines will become errors in a future release"};
inline constexpr CheckRule kConsistentInstructionCasing{
    "ConsistentInstructionCasing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)"};
inline constexpr CheckRule kDuplicateStageName{"DuplicateStageName",
                                               "Stage names should be unique"};
inline constexpr CheckRule kReservedStageName{"ReservedStageName",
                                              "Reserved words should not be used as stage names"};
inline constexpr CheckRule kJSONArgsRecommended{
    "JSONArgsRecommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS "
    "signals"};
inline constexpr CheckRule kMaintainerDeprecated{
    "MaintainerDeprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author"};
inline constexpr CheckRule kUndefinedArgInFrom{"UndefinedArgInFrom",
                                               "FROM command must use declared ARGs"};
inline constexpr CheckRule kWorkdirRelativePath{
    "WorkdirRelativePath",
    "Relative workdir without an absolute workdir declared within the build can have unexpected "
    "results if the base image changes"};
inline constexpr CheckRule kUndefinedVar{"UndefinedVar",
                                         "Variables should be defined before their use"};
inline constexpr CheckRule kMultipleInstructionsDisallowed{
    "MultipleInstructionsDisallowed",
    "Multiple instructions of the same type should not be used in the same stage"};
inline constexpr CheckRule kLegacyKeyValueFormat{
    "LegacyKeyValueFormat", "Legacy key/value format with whitespace separator should not be used"};
inline constexpr CheckRule kRedundantTargetPlatform{
    "RedundantTargetPlatform",
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default "
    "behavior"};
inline constexpr CheckRule kSecretsUsedInArgOrEnv{
    "SecretsUsedInArgOrEnv", "Sensitive data should not be used in the ARG or ENV commands"};
inline constexpr CheckRule kInvalidDefaultArgInFrom{
    "InvalidDefaultArgInFrom",
    "Default value for global ARG results in an empty or invalid base image name"};
inline constexpr CheckRule kFromPlatformFlagConstDisallowed{
    "FromPlatformFlagConstDisallowed", "FROM --platform flag should not use a constant value"};
inline constexpr CheckRule kCopyIgnoredFile{
    "CopyIgnoredFile", "Attempting to Copy file that is excluded by .dockerignore"};
inline constexpr CheckRule kExposeProtoCasing{"ExposeProtoCasing",
                                              "Protocol in EXPOSE instruction should be lowercase"};
inline constexpr CheckRule kExposeInvalidFormat{
    "ExposeInvalidFormat",
    "IP address and host-port mapping should not be used in EXPOSE instruction. This will become "
    "an error in a future release"};
inline constexpr CheckRule kInvalidDefinitionDescription{
    "InvalidDefinitionDescription",
    "Comment for build stage or argument should follow the format: `# <arg/stage name> "
    "<description>`",
    true};

// hoist's own rule, not BuildKit's: a buildah/podman extension that
// BuildKit refuses (Dialect::kBuildah accepts it; `--strict` refuses it
// with BuildKit's error).
inline constexpr CheckRule kBuildahExtension{
    "BuildahExtension", "buildah/podman extensions are not portable to BuildKit"};

inline constexpr const CheckRule* kCheckRules[] = {
    &kStageNameCasing,
    &kFromAsCasing,
    &kNoEmptyContinuation,
    &kConsistentInstructionCasing,
    &kDuplicateStageName,
    &kReservedStageName,
    &kJSONArgsRecommended,
    &kMaintainerDeprecated,
    &kUndefinedArgInFrom,
    &kWorkdirRelativePath,
    &kUndefinedVar,
    &kMultipleInstructionsDisallowed,
    &kLegacyKeyValueFormat,
    &kRedundantTargetPlatform,
    &kSecretsUsedInArgOrEnv,
    &kInvalidDefaultArgInFrom,
    &kFromPlatformFlagConstDisallowed,
    &kCopyIgnoredFile,
    &kExposeProtoCasing,
    &kExposeInvalidFormat,
    &kInvalidDefinitionDescription,
    &kBuildahExtension,
};

// The row named `name`, or null (an unknown name, e.g. in `skip=`, which
// BuildKit ignores).
inline const CheckRule* FindCheckRule(std::string_view name) {
  for (const CheckRule* r : kCheckRules) {
    if (r->name == name) return r;
  }
  return nullptr;
}

// A check of `rule` with BuildKit's `message`, at `at` (the start of the
// instruction it is about).
inline Warning CheckWarning(const CheckRule& rule, std::string message, Position at) {
  return Warning{std::move(message), at, std::string(rule.name)};
}

// Which checks a build reports, and whether reporting one fails it.
struct CheckConfig {
  bool skip_all = false;
  std::set<std::string, std::less<>> skip;
  bool experimental_all = false;
  std::set<std::string, std::less<>> experimental;
  bool error = false;  // error=true: any reported check fails the build

  // Experimental rules are reported only when enabled (`skip` does not
  // apply to them); the others unless skipped. Unknown names are never
  // reported.
  bool Reports(std::string_view rule) const {
    const CheckRule* r = FindCheckRule(rule);
    if (r == nullptr) return false;
    if (r->experimental) return experimental_all || experimental.count(rule) != 0;
    return !skip_all && skip.count(rule) == 0;
  }

  // This configuration with the skipped and experimental rules of `more`
  // added (a `# check=` comment above one instruction; it cannot set error).
  CheckConfig MergedWith(const CheckConfig& more) const {
    CheckConfig out = *this;
    out.skip_all = skip_all || more.skip_all;
    out.skip.insert(more.skip.begin(), more.skip.end());
    out.experimental_all = experimental_all || more.experimental_all;
    out.experimental.insert(more.experimental.begin(), more.experimental.end());
    return out;
  }
};

}  // namespace hoist::dockerfile
