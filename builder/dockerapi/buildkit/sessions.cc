#include "builder/dockerapi/buildkit/sessions.h"

#include <grpcpp/channel.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/support/channel_arguments.h>

namespace hoist::dockerapi::buildkit {
namespace {

// Sessions kept at most (the oldest go first), how long a done session
// stays for the CLI to close it, and how long an unused one stays.
constexpr size_t kMaxSessions = 64;
constexpr auto kDoneGrace = std::chrono::seconds(30);
constexpr auto kUnusedLimit = std::chrono::minutes(10);

}  // namespace

Sessions::~Sessions() = default;

void Sessions::DropStale() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Entry& e = it->second;
    bool stale = (e.done && now - *e.done > kDoneGrace) || now - e.added > kUnusedLimit;
    it = stale ? sessions_.erase(it) : std::next(it);
  }
  while (sessions_.size() >= kMaxSessions) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.added < oldest->second.added) oldest = it;
    }
    sessions_.erase(oldest);
  }
}

void Sessions::Add(int fd, SessionInfo info) {
  grpc::ChannelArguments args;
  // File data comes in messages of 32 KiB; other messages are small. The
  // connection is the CLI's, so it is never re-established.
  args.SetMaxReceiveMessageSize(16 << 20);
  std::shared_ptr<grpc::Channel> ch = grpc::CreateCustomInsecureChannelFromFd("session", fd, args);
  auto s = std::make_shared<Session>(Session{info, std::move(ch)});
  std::lock_guard<std::mutex> lock(mu_);
  DropStale();
  sessions_[info.id] = Entry{std::move(s), std::chrono::steady_clock::now(), std::nullopt};
  added_.notify_all();
}

std::optional<SessionInfo> Sessions::Wait(const std::string& id,
                                          std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<SessionInfo> found;
  added_.wait_for(lock, timeout, [&] {
    auto it = sessions_.find(id);
    if (it != sessions_.end()) found = it->second.session->info;
    return found.has_value();
  });
  return found;
}

std::shared_ptr<Session> Sessions::Find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.session;
}

void Sessions::Close(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

void Sessions::Done(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.done = std::chrono::steady_clock::now();
}

Status Sessions::DiffCopy(const std::string& id, const DiffCopyRequest& req, EntrySink& sink) {
  std::shared_ptr<Session> s = Find(id);
  if (s == nullptr) return Status(Code::kUnavailable, "the build session " + id + " has ended");
  return buildkit::DiffCopy(*s, req, sink);
}

std::string Sessions::TraceMessage(const engine::ProgressEvent& e, const std::string& build_id,
                                   int* warnings) {
  return buildkit::TraceMessage(e, build_id, warnings);
}

}  // namespace hoist::dockerapi::buildkit

extern "C" __attribute__((visibility("default"))) hoist::dockerapi::BuildkitSessions*
hoist_buildkit_sessions_v1() {
  // Never destroyed: at exit, gRPC's own state may be gone first.
  static auto* sessions = new hoist::dockerapi::buildkit::Sessions;
  return sessions;
}
