// The image configuration a stage builds up, and how each metadata
// instruction changes it, as BuildKit's dockerfile2llb does (dispatchEnv,
// dispatchCmd, ..., commitToHistory) with moby/docker-image-spec's
// DockerOCIImage as the JSON shape: the OCI image config (image-spec
// "config.md") plus Docker's Healthcheck, OnBuild and Shell.
//
//   - ENV replaces a variable in place or appends it; LABEL, EXPOSE and
//     VOLUME add to maps; USER, STOPSIGNAL, SHELL, MAINTAINER set fields;
//   - CMD and ENTRYPOINT in shell form get the stage's SHELL (default
//     ["/bin/sh", "-c"]) prepended; CMD sets ArgsEscaped; ENTRYPOINT resets
//     Cmd unless a CMD came earlier in the same stage;
//   - ONBUILD appends to OnBuild (no history entry, as BuildKit);
//   - every instruction but ONBUILD adds a history entry whose created_by
//     is BuildKit's text ("ENV A=b", "CMD [\"sh\" \"-c\" \"x\"]",
//     "COPY a /x # buildkit"), empty_layer when it made no layer.
//
// Plain values and pure functions; safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/platform.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

// BuildKit's history comment for Dockerfile instructions.
inline constexpr std::string_view kHistoryComment = "buildkit.dockerfile.v0";
inline constexpr const char* kDefaultShell[] = {"/bin/sh", "-c"};

struct HealthConfig {
  std::vector<std::string> test;
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
  int retries = 0;
  bool operator==(const HealthConfig&) const = default;
};

struct HistoryEntry {
  std::string created;  // RFC 3339 ("" = absent)
  std::string author;
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
  bool operator==(const HistoryEntry&) const = default;
};

// The "config" member: what a container gets when it runs the image.
struct ContainerConfig {
  std::string user;
  std::set<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> env;         // "K=V", in order
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::set<std::string> volumes;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  bool args_escaped = false;
  std::optional<HealthConfig> healthcheck;
  std::vector<std::string> on_build;
  std::vector<std::string> shell;
  bool operator==(const ContainerConfig&) const = default;
};

struct ImageConfig {
  std::string created;  // RFC 3339 ("" = absent)
  std::string author;
  std::string architecture, os, os_version, variant;
  std::vector<std::string> os_features;
  ContainerConfig config;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids, bottom layer first
  std::vector<HistoryEntry> history;

  // A base image's config (JSON). Fields hoist does not know are dropped,
  // as BuildKit drops them. kManifestInvalid for malformed JSON or diff IDs.
  static Result<ImageConfig> Parse(std::string_view json);
  // The config of `FROM scratch` (BuildKit's emptyImage): platform,
  // WorkingDir "/", Env PATH=<default>.
  static ImageConfig Scratch(const dockerfile::Platform& platform);

  // The JSON bytes, fields in DockerOCIImage's order, empty ones omitted,
  // maps sorted: equal configs give equal bytes.
  std::string Serialize() const;

  // The value of an Env variable, nullopt when unset.
  std::optional<std::string> GetEnv(std::string_view key) const;
  bool operator==(const ImageConfig&) const = default;
};

// Per-stage state of the dispatch that is not in the config.
struct DispatchState {
  bool cmd_set = false;  // a CMD came earlier in this stage (ENTRYPOINT keeps Cmd)
};

// True for the instructions that only change the config (everything but
// COPY, ADD, RUN and WORKDIR, which make layers).
bool IsMetadataCommand(const dockerfile::Command& c);

// Applies a metadata instruction (expanded, as the planner leaves it) to
// `cfg` and appends its history entry (created `created`). kInvalidArgument
// for values Docker rejects (a malformed EXPOSE, an empty VOLUME); the
// caller prefixes the Dockerfile position.
// REQUIRES: IsMetadataCommand(c).
Status ApplyMetadata(const dockerfile::Command& c, const std::string& created, DispatchState* state,
                     ImageConfig* cfg);

// WORKDIR: `path` made absolute against the current working directory as
// BuildKit's system.NormalizeWorkdir does on Linux (relative paths joined
// and cleaned; absolute ones kept as written). kInvalidArgument for "".
Result<std::string> NormalizeWorkdir(const std::string& current, const std::string& path);

// Appends a history entry with kHistoryComment. Layer steps pass a
// created_by ending in " # buildkit" (see CopyHistoryText).
void AddHistory(ImageConfig* cfg, std::string created_by, bool empty_layer,
                const std::string& created);

// BuildKit's created_by for COPY/ADD: "COPY [--parents] [--chown=..]
// [--chmod=..] SRC... [<<HEREDOC...] DEST # buildkit".
std::string CopyHistoryText(const dockerfile::Command& c);

// Formatting as Go's fmt does it, for history texts.
std::string GoQuote(std::string_view s);                     // %q of a string
std::string GoQuoteList(const std::vector<std::string>& v);  // %q of []string
std::string GoList(const std::vector<std::string>& v);       // %v of []string
std::string GoDuration(int64_t ns);                          // time.Duration.String()

}  // namespace hoist::engine
