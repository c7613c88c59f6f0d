// Inside the BuildKit plugin: the receiving end of BuildKit's file sync
// (fsutil's DiffCopy), the way dockerd's BuildKit fetches a build context
// from the docker CLI over a session (sessions.h):
//
//   - the engine calls /moby.filesync.v1.FileSync/DiffCopy with gRPC
//     metadata naming the directory ("dir-name": "context" or
//     "dockerfile") and filters ("exclude-patterns": .dockerignore's
//     patterns, "followpaths": names to send alone), one header per value;
//   - the CLI walks the directory and sends one STAT packet per entry (the
//     ID of an entry is its index in the walk), then an empty STAT;
//   - for each regular file whose size, modification time or mode differs
//     from the sink's copy (context_sync.h's rule, fsutil's too), the
//     engine sends REQ with its ID; the CLI answers DATA packets, an empty
//     one ending the file (up to four files interleave);
//   - once every file asked for is in, the engine sends FIN, the CLI
//     answers FIN and ends the call.
// So a rebuild moves only what changed, plus one STAT per entry.
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <optional>
#include <unordered_map>

#include "builder/dockerapi/buildkit/sessions.h"
#include "builder/dockerapi/proto/filesync.grpc.pb.h"

namespace hoist::dockerapi::buildkit {
namespace {

using fsutil::types::Packet;

// Go's os.FileMode bits, which Stat.mode carries (not st_mode).
constexpr uint32_t kGoDir = 1u << 31;
constexpr uint32_t kGoSymlink = 1u << 27;
constexpr uint32_t kGoDevice = 1u << 26;
constexpr uint32_t kGoNamedPipe = 1u << 25;
constexpr uint32_t kGoSocket = 1u << 24;
constexpr uint32_t kGoSetuid = 1u << 23;
constexpr uint32_t kGoSetgid = 1u << 22;
constexpr uint32_t kGoCharDevice = 1u << 21;
constexpr uint32_t kGoSticky = 1u << 20;
constexpr uint32_t kGoIrregular = 1u << 19;

// A whole context moves in one call; a stuck CLI must not hold a build
// forever.
constexpr auto kCallDeadline = std::chrono::minutes(30);

mode_t UnixPerm(uint32_t go_mode) {
  mode_t perm = go_mode & 0777;
  if ((go_mode & kGoSetuid) != 0) perm |= S_ISUID;
  if ((go_mode & kGoSetgid) != 0) perm |= S_ISGID;
  if ((go_mode & kGoSticky) != 0) perm |= S_ISVTX;
  return perm;
}

Status Bad(const std::string& what) {
  return Status(Code::kInvalidArgument, what);
}

using Stream = grpc::ClientReaderWriter<Packet, Packet>;

class Receiver {
 public:
  Receiver(EntrySink& m, Stream& s, const std::string& dir_name)
      : m_(m), s_(s), dir_name_(dir_name) {}

  // Reads the call to its end; Ok when every entry arrived.
  Status Run() {
    Packet p;
    while (s_.Read(&p)) {
      Status st = Handle(p);
      if (!st.ok()) {
        Packet err;
        err.set_type(Packet::PACKET_ERR);
        err.set_data(st.message());
        s_.Write(err);
        return st;
      }
      if (stats_done_ && open_.empty() && !fin_sent_) {
        Packet fin;
        fin.set_type(Packet::PACKET_FIN);
        if (!s_.Write(fin)) break;
        fin_sent_ = true;
      }
    }
    if (!fin_got_) return Status(Code::kUnavailable, "the session ended during the file sync");
    return Status::Ok();
  }

 private:
  Status Handle(const Packet& p) {
    switch (p.type()) {
      case Packet::PACKET_STAT:
        if (!p.has_stat()) {
          stats_done_ = true;
          return Status::Ok();
        }
        return Entry(p.stat(), next_id_++);
      case Packet::PACKET_DATA: {
        auto it = open_.find(p.id());
        if (it == open_.end()) return Bad("file data that was not asked for (ID " + Id(p) + ")");
        if (p.data().empty()) {
          Status st = it->second->Commit();
          open_.erase(it);
          return st;
        }
        return it->second->Write(p.data().data(), p.data().size());
      }
      case Packet::PACKET_FIN:
        fin_got_ = true;
        return Status::Ok();
      case Packet::PACKET_ERR:
        return Bad("the docker CLI could not send the " + dir_name_ + " directory: " + p.data());
      default:
        return Bad("unexpected packet type " + std::to_string(p.type()) + " in the file sync");
    }
  }

  static std::string Id(const Packet& p) { return std::to_string(p.id()); }

  Status Entry(const fsutil::types::Stat& st, uint32_t id) {
    const uint32_t mode = st.mode();
    const mode_t perm = UnixPerm(mode);
    if ((mode & kGoDir) != 0) return m_.Directory(st.path(), perm);
    if ((mode & kGoSymlink) != 0) return m_.Symlink(st.path(), st.linkname());
    if ((mode & (kGoDevice | kGoNamedPipe | kGoSocket | kGoCharDevice | kGoIrregular)) != 0) {
      return Status::Ok();  // no place in a build context, as in a tar context
    }
    if (!st.linkname().empty()) return m_.Hardlink(st.path(), st.linkname());
    Result<std::unique_ptr<EntrySink::File>> f =
        m_.Regular(st.path(), st.size(), st.modtime(), perm);
    if (!f.ok()) return f.status();
    if (*f == nullptr) return Status::Ok();  // the copy has it
    open_[id] = std::move(*f);
    Packet req;
    req.set_type(Packet::PACKET_REQ);
    req.set_id(id);
    if (!s_.Write(req)) return Status(Code::kUnavailable, "the session closed");
    return Status::Ok();
  }

  EntrySink& m_;
  Stream& s_;
  const std::string& dir_name_;
  std::unordered_map<uint32_t, std::unique_ptr<EntrySink::File>> open_;
  uint32_t next_id_ = 0;
  bool stats_done_ = false, fin_sent_ = false, fin_got_ = false;
};

}  // namespace

Status DiffCopy(Session& session, const DiffCopyRequest& req, EntrySink& sink) {
  auto stub = moby::filesync::v1::FileSync::NewStub(session.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  ctx.AddMetadata("dir-name", req.dir_name);
  for (const std::string& p : req.followpaths) ctx.AddMetadata("followpaths", p);
  for (const std::string& p : req.exclude_patterns) ctx.AddMetadata("exclude-patterns", p);
  std::unique_ptr<Stream> stream = stub->DiffCopy(&ctx);
  Receiver receiver(sink, *stream, req.dir_name);
  Status st = receiver.Run();
  if (!st.ok()) ctx.TryCancel();
  stream->WritesDone();
  grpc::Status call = stream->Finish();
  if (st.ok() && !call.ok()) {
    st = call.error_code() == grpc::StatusCode::UNAVAILABLE ||
                 call.error_code() == grpc::StatusCode::CANCELLED ||
                 call.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
             ? Status(Code::kUnavailable, "the build session: " + call.error_message())
             : Bad("the docker CLI's file sync of " + req.dir_name + ": " + call.error_message());
  }
  return st;
}

}  // namespace hoist::dockerapi::buildkit
