// Inside the BuildKit plugin: a build's progress as the docker CLI shows a
// BuildKit build. Every progress event (engine/progress.h) becomes one
// moby.buildkit.v1.StatusResponse (proto/control.proto), which the engine
// sends as {"id": "moby.buildkit.trace", "aux": base64 of it} in POST
// /build's JSON stream, and the CLI renders as "#N name ... DONE 0.3s":
//   - a vertex started:     Vertex{digest, name, started};
//   - a log line:           VertexLog{vertex, timestamp, stdout, line};
//   - done, cached, failed: Vertex{..., completed, cached | error};
//   - a warning:            a vertex of its own, started and completed.
// Vertices are named by digests made from the build's ID and the vertex
// number, which the CLI only uses to tell vertices apart.
#include "builder/dockerapi/buildkit/sessions.h"
#include "builder/dockerapi/proto/control.pb.h"
#include "common/digest.h"

namespace hoist::dockerapi::buildkit {
namespace {

void SetTime(google::protobuf::Timestamp* ts, std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  ts->set_seconds(ns / 1000000000);
  ts->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

// Vertices are named by digests in BuildKit; these are stable for one build.
std::string VertexDigest(const std::string& build_id, int id) {
  return DigestOf("hoist-engine vertex " + build_id + " " + std::to_string(id)).str();
}

}  // namespace

std::string TraceMessage(const engine::ProgressEvent& e, const std::string& build_id,
                         int* warnings) {
  moby::buildkit::v1::StatusResponse r;
  using Kind = engine::ProgressEvent::Kind;
  if (e.kind == Kind::kLog) {
    auto* log = r.add_logs();
    log->set_vertex(VertexDigest(build_id, e.id));
    SetTime(log->mutable_timestamp(), e.time);
    log->set_stream(1);
    log->set_msg(e.text + "\n");
  } else if (e.kind == Kind::kMessage) {
    if (e.name != "warning") return "";
    auto* v = r.add_vertexes();
    v->set_digest(VertexDigest(build_id, -(++*warnings)));
    v->set_name(e.text);
    SetTime(v->mutable_started(), e.time);
    SetTime(v->mutable_completed(), e.time);
  } else {
    auto* v = r.add_vertexes();
    v->set_digest(VertexDigest(build_id, e.id));
    v->set_name(e.name);
    SetTime(v->mutable_started(), e.started);
    if (e.kind != Kind::kStart) SetTime(v->mutable_completed(), e.time);
    if (e.kind == Kind::kCached) v->set_cached(true);
    if (e.kind == Kind::kError) v->set_error(e.text.empty() ? "failed" : e.text);
  }
  std::string bytes;
  if (!r.SerializeToString(&bytes)) return "";
  return bytes;
}

}  // namespace hoist::dockerapi::buildkit
