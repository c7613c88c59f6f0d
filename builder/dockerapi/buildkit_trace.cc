#include "builder/dockerapi/buildkit_trace.h"

#include "builder/dockerapi/proto/control.pb.h"
#include "common/base64.h"
#include "common/digest.h"

namespace hoist::dockerapi {
namespace {

void SetTime(google::protobuf::Timestamp* ts, std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  ts->set_seconds(ns / 1000000000);
  ts->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

}  // namespace

std::string BuildkitTrace::VertexDigest(int id) const {
  return DigestOf("hoist-engine vertex " + build_id_ + " " + std::to_string(id)).str();
}

void BuildkitTrace::operator()(const engine::ProgressEvent& e) {
  moby::buildkit::v1::StatusResponse r;
  using Kind = engine::ProgressEvent::Kind;
  if (e.kind == Kind::kLog) {
    auto* log = r.add_logs();
    log->set_vertex(VertexDigest(e.id));
    SetTime(log->mutable_timestamp(), e.time);
    log->set_stream(1);
    log->set_msg(e.text + "\n");
  } else if (e.kind == Kind::kMessage) {
    if (e.name != "warning") return;
    auto* v = r.add_vertexes();
    v->set_digest(VertexDigest(-(++warnings_)));
    v->set_name(e.text);
    SetTime(v->mutable_started(), e.time);
    SetTime(v->mutable_completed(), e.time);
  } else {
    auto* v = r.add_vertexes();
    v->set_digest(VertexDigest(e.id));
    v->set_name(e.name);
    SetTime(v->mutable_started(), e.started);
    if (e.kind != Kind::kStart) SetTime(v->mutable_completed(), e.time);
    if (e.kind == Kind::kCached) v->set_cached(true);
    if (e.kind == Kind::kError) v->set_error(e.text.empty() ? "failed" : e.text);
  }
  std::string bytes;
  if (!r.SerializeToString(&bytes)) return;
  send_(nlohmann::json{{"id", "moby.buildkit.trace"}, {"aux", Base64Encode(bytes)}});
}

}  // namespace hoist::dockerapi
