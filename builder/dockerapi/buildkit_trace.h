// A build's progress as the docker CLI shows a BuildKit build: every
// progress event (engine/progress.h) becomes one moby.buildkit.trace
// message of POST /build's JSON stream, {"id": "moby.buildkit.trace",
// "aux": base64 of a moby.buildkit.v1.StatusResponse} (proto/control.proto),
// which the CLI renders as BuildKit's "#N name ... DONE 0.3s" lines:
//   - a vertex started:     Vertex{digest, name, started};
//   - a log line:           VertexLog{vertex, timestamp, stdout, line};
//   - done, cached, failed: Vertex{..., completed, cached | error};
//   - a warning:            a vertex of its own, started and completed.
// Vertices are named by digests made from the build's ID and the vertex
// number, which the CLI only uses to tell vertices apart.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "builder/engine/progress.h"

namespace hoist::dockerapi {

class BuildkitTrace {
 public:
  // `send` writes one message of the response stream; `build_id` keeps
  // vertex digests of concurrent builds apart.
  BuildkitTrace(std::function<void(const nlohmann::json&)> send, std::string build_id)
      : send_(std::move(send)), build_id_(std::move(build_id)) {}

  // An observer for BuildProgress::Observe.
  void operator()(const engine::ProgressEvent& e);

 private:
  std::string VertexDigest(int id) const;
  std::function<void(const nlohmann::json&)> send_;
  std::string build_id_;
  int warnings_ = 0;
};

}  // namespace hoist::dockerapi
