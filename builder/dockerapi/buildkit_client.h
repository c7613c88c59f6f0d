// hoist engine's side of a BuildKit build, over the plugin
// (buildkit_plugin.h): a directory of the CLI's session synced into a
// mirror, and the build's progress as BuildKit's trace messages.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "builder/dockerapi/buildkit_plugin.h"
#include "builder/dockerapi/context_sync.h"
#include "common/status.h"

namespace hoist::dockerapi {

// Syncs `req`'s directory of session `id` into `dir` (made if missing)
// through a MirrorWriter: unchanged files stay, new and changed ones are
// written and hashed on the way, what the CLI no longer has is removed.
// Paths are confined to `dir` (no absolute paths, no "..", hard links
// inside).
Result<SyncResult> DiffCopyToDir(BuildkitSessions& sessions, const std::string& id,
                                 const DiffCopyRequest& req, const std::string& dir);

// An observer for BuildProgress::Observe: each event as one
// moby.buildkit.trace message through `send`.
class BuildkitTrace {
 public:
  // `build_id` keeps vertex digests of concurrent builds apart.
  BuildkitTrace(BuildkitSessions& sessions, std::function<void(const nlohmann::json&)> send,
                std::string build_id)
      : sessions_(sessions), send_(std::move(send)), build_id_(std::move(build_id)) {}

  void operator()(const engine::ProgressEvent& e);

 private:
  BuildkitSessions& sessions_;
  std::function<void(const nlohmann::json&)> send_;
  std::string build_id_;
  int warnings_ = 0;
};

}  // namespace hoist::dockerapi
