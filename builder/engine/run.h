// RUN's pieces that do not need the engine: the command line, environment,
// history text and user of a step, as BuildKit's dockerfile2llb dispatchRun
// and its executor build them, and the `--secret` sources of a build.
//
// The engine (engine.cc, RunStep) puts them together: cache key, live root,
// Sandbox, Snapshotter, layer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builder/dockerfile/instructions.h"
#include "builder/engine/image_config.h"
#include "common/status.h"

namespace hoist::engine {

// The argv of a RUN (Dockerfile reference, "RUN"; BuildKit dispatchRun):
//   - exec form: as written;
//   - shell form: SHELL (default ["/bin/sh", "-c"]) plus the command line;
//   - a shell-form command that is only a heredoc ("RUN <<EOF"): its body
//     runs through SHELL, or, when the body starts with "#!", as a script
//     file mounted read-only at /dev/pipes/<name> (`script` below);
//   - any other heredoc use: the command line and every body, rejoined,
//     through SHELL (the shell reads the heredocs itself).
struct RunArgv {
  std::vector<std::string> argv;
  std::optional<dockerfile::InlineFile> script;  // to mount at kScriptDir/<name>, mode 0755
};
inline constexpr const char* kScriptDir = "/dev/pipes";
Result<RunArgv> BuildRunArgv(const dockerfile::CommandLine& cmd,
                             const std::vector<std::string>& shell);

// The ARGs a RUN sees: BuildKit adds each ARG's value to the build state's
// environment, so a later ENV of the same name wins, and an ARG after an
// ENV wins over it. History lists the ARGs declared in the stage.
class RunArgs {
 public:
  // An ARG (expanded, as the planner leaves it); nullopt: declared without a value.
  void Declare(const std::string& key, const std::optional<std::string>& value);
  // An ENV set `key`.
  void EnvSet(const std::string& key);
  // A new stage built on this one: values stay, the history list restarts.
  RunArgs ForChildStage() const;

  // The step's environment: the config's Env with the ARG values as above,
  // `proxy` (HTTP_PROXY & co. from --build-arg, never in a layer or the
  // cache key) where unset, and PATH (BuildKit's default) when missing.
  std::vector<std::string> Environment(const std::vector<std::string>& config_env,
                                       const std::map<std::string, std::string>& proxy) const;
  // BuildKit's runCommandString: "|2 A=1 B=2 " before argv when the stage
  // declared ARGs, the value of an ENV of the same name winning.
  std::string HistoryText(const std::vector<std::string>& argv,
                          const std::vector<std::string>& config_env) const;

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> arg_wins_;  // set by ARG after any ENV of the name
  std::vector<std::pair<std::string, std::optional<std::string>>> declared_;  // this stage
};

// The user a step runs as: USER "user[:group]" through the root's
// /etc/passwd and /etc/group as runc's user.GetExecUser resolves it: a
// numeric uid need not exist (gid 0 then); a name must; the group defaults
// to the user's primary group; supplementary groups are those /etc/group
// lists the user in (when no group is given). `root` may be "" (scratch):
// only numeric ids work then. Errors are kInvalidArgument, worded as runc's.
struct ExecUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;
  std::string home = "/";
};
Result<ExecUser> ResolveExecUser(std::string_view spec, const std::string& root);

// `--secret id=ID[,src=PATH|,env=VAR][,type=file|env]` (docker buildx's
// syntax). Without src or env: the environment variable named ID when set,
// else kInvalidArgument.
struct SecretSource {
  std::string id;
  std::string path;  // a file on the host, or
  std::string env;   // an environment variable of hoist's
};
Result<SecretSource> ParseSecretSpec(std::string_view spec);
// The secret's bytes (at most 500 KiB, as BuildKit). kNotFound when the
// file or variable is missing.
Result<std::string> ReadSecret(const SecretSource& s);

// Recreates the tree `src_root`/`rel` at the new directory `dst`, leaving
// out what `excluded` (called with paths relative to `src_root`) names:
// what a RUN --mount=type=bind of the context shows. Regular files are hard
// links (copies across filesystems, or always with `copy`: a writable bind
// whose writes are discarded). Symlinks are recreated as they are.
Status MirrorTree(const std::string& src_root, const std::string& rel, const std::string& dst,
                  const std::function<bool(const std::string&)>& excluded, bool copy);

}  // namespace hoist::engine
