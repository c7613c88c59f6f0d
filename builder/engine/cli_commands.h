// The build subcommands of the `hoist` binary, as library calls so that
// cli/main.cc only wires them in:
//
//   hoist build [-t REF]... [-f Dockerfile] [--build-arg K=V]... [--target S]
//               [--platform P] [--label K=V]... [--no-cache]
//               [--compression gzip|zstd] [--compression-level N]
//               [--source-date-epoch T] [--push] [--output PLACE]
//               [--progress auto|plain|tty|json|quiet] [--iidfile F]
//               [--print-plan [--json]] [registry flags] CONTEXT
//   hoist cache prune [--all] [--keep-storage SIZE] [--json]
//   hoist push NAME REF [-q] [--json] [-j N] [registry flags]
//       (NAME: an image `hoist build -t NAME` keeps in the local store;
//       pushes of oci:/oci-archive:/docker-archive: places are transfer's)
//
// `build` runs the engine (engine.h) into the local content store
// (ContentStore::DefaultRoot(), i.e. $HOIST_HOME/store), then: names the
// image under each -t in the store's image index; with --push copies it
// to each -t's registry (transfer::Copy: blobs in parallel, existing ones
// skipped, mounts); with --output writes it to oci:DIR, oci-archive:FILE
// or docker-archive:FILE. It prints the manifest digest on stdout (with
// --progress json: a final {"event":"result"} line instead) and writes it
// to --iidfile. After a build the cache is held to HOIST_CACHE_MAX.
//
// Exit codes: 0 built (and pushed/written), 1 the build or a push failed,
// 2 usage (bad flags, unreadable context or Dockerfile).
//
// `hoist push NAME REF` of a local store image: Owns() claims it only when
// NAME is in the store's image index, so every other push stays with
// transfer/cli_commands.h.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "builder/engine/engine.h"
#include "builder/transfer/cli_commands.h"

namespace hoist::engine {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct BuildFlags {
  std::string context = ".";
  std::string file;
  std::vector<std::string> tags;
  std::vector<std::string> build_args;
  std::string target;
  std::string platform;
  std::vector<std::string> labels;
  bool no_cache = false;
  std::string compression = "gzip";
  int compression_level = -1;
  std::string source_date_epoch;
  bool push = false;
  std::string sign_key;  // --sign KEY: sign each pushed tag (builder/sign)
  bool sbom = false;     // --sbom: attach an SPDX document to each pushed image
  std::string output;
  std::string progress = "auto";
  bool quiet = false;
  std::string iidfile;
  bool print_plan = false;
  bool json = false;
  int jobs = 4;
  std::string isolation;             // "" = $HOIST_ISOLATION, else auto
  std::vector<std::string> secrets;  // --secret id=..,src=..
  std::vector<std::string> ssh;      // --ssh default[=SOCKET]
  std::string snapshotter;           // "" = $HOIST_SNAPSHOTTER, else auto
  std::vector<std::string> allow;    // --allow network.host|security.insecure
  bool strict = false;               // BuildKit's dialect only
};

// The RUN options of `flags` (--isolation, --secret, --ssh, --snapshotter,
// --allow)
// into `o`.
// kInvalidArgument for a bad value (the message names the flag).
Status ApplyRunFlags(const BuildFlags& flags, BuildOptions* o);

class CliCommands {
 public:
  // Adds `build` and `cache` to `app`, which must outlive this object.
  explicit CliCommands(CLI::App& app);

  // True when argv names one of these subcommands (for `push`: of an
  // image in the local store; see above).
  bool Owns(int argc, char** argv);
  // Parses argv with `app` and runs the subcommand; returns the exit code.
  int Run(int argc, char** argv);

 private:
  int RunBuild();
  int RunPrune();
  int RunPush();

  CLI::App& app_;
  CLI::App *build_, *cache_, *prune_;
  // `push` of local store images lives on an app of its own (transfer's
  // `push` subcommand is on the main one).
  CLI::App push_app_{"Push an image from the local store to a registry", "hoist push"};
  std::string push_src_, push_dst_;
  bool push_quiet_ = false, push_json_ = false;
  int push_jobs_ = 4;
  bool owns_push_ = false;
  BuildFlags flags_;
  transfer::ConnectionFlags conn_;
  bool prune_all_ = false, prune_json_ = false;
  std::string keep_storage_;
};

}  // namespace hoist::engine
