#include "builder/dockerapi/session.h"

#include <grpcpp/channel.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/support/channel_arguments.h>

namespace hoist::dockerapi {
namespace {

// Sessions kept at most (the oldest go first), how long a done session
// stays for the CLI to close it, and how long an unused one stays.
constexpr size_t kMaxSessions = 64;
constexpr auto kDoneGrace = std::chrono::seconds(30);
constexpr auto kUnusedLimit = std::chrono::minutes(10);

}  // namespace

SessionManager::~SessionManager() = default;

void SessionManager::DropStale() {
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

void SessionManager::Add(int fd, SessionInfo info) {
  grpc::ChannelArguments args;
  // File data comes in messages of 32 KiB; other messages are small. The
  // connection is the CLI's, so it is never re-established.
  args.SetMaxReceiveMessageSize(16 << 20);
  std::shared_ptr<grpc::Channel> ch = grpc::CreateCustomInsecureChannelFromFd("session", fd, args);
  auto s = std::make_shared<Session>(info, std::move(ch));
  std::lock_guard<std::mutex> lock(mu_);
  DropStale();
  sessions_[info.id] = Entry{std::move(s), std::chrono::steady_clock::now(), std::nullopt};
  added_.notify_all();
}

std::shared_ptr<Session> SessionManager::Wait(const std::string& id,
                                              std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  std::shared_ptr<Session> found;
  added_.wait_for(lock, timeout, [&] {
    auto it = sessions_.find(id);
    if (it != sessions_.end()) found = it->second.session;
    return found != nullptr;
  });
  return found;
}

void SessionManager::Close(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

void SessionManager::Done(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it != sessions_.end()) it->second.done = std::chrono::steady_clock::now();
}

}  // namespace hoist::dockerapi
