// BuildKit sessions of the Engine API (POST /session), which the docker
// CLI opens for `docker build` with BuildKit (DOCKER_BUILDKIT=1, or a
// daemon that answers /_ping with Builder-Version: 2):
//
//   - the CLI sends POST /session with Upgrade: h2c and the session's
//     identity in X-Docker-Expose-Session-{Uuid,Name,Sharedkey} and the
//     gRPC methods it serves in X-Docker-Expose-Session-Grpc-Method (one
//     header line each; this server keeps the last, so the engine asks
//     for a method and reads the error when it is not served);
//   - the engine answers 101 and, on that connection, the CLI is the HTTP/2
//     gRPC server and the engine its client (the build context comes over
//     its FileSync service, filesync.h);
//   - POST /build?version=2&session=ID names the session; the build may
//     arrive before the session does, so builds wait for it (bounded).
//
// A session ends when the CLI closes it, after the build's response. A
// channel made from a descriptor cannot report its state, so sessions are
// dropped by age: done ones after a grace period, unused ones after ten
// minutes, and the oldest beyond a bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"

namespace grpc {
class Channel;
}

namespace hoist::dockerapi {

struct SessionInfo {
  std::string id;          // X-Docker-Expose-Session-Uuid
  std::string name;        // -Name: the context argument's base name
  std::string shared_key;  // -Sharedkey: stable for one context directory
};

class Session {
 public:
  Session(SessionInfo info, std::shared_ptr<grpc::Channel> channel)
      : info_(std::move(info)), channel_(std::move(channel)) {}
  const SessionInfo& info() const { return info_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  SessionInfo info_;
  std::shared_ptr<grpc::Channel> channel_;
};

class SessionManager {
 public:
  SessionManager() = default;
  ~SessionManager();
  SessionManager(const SessionManager&) = delete;
  SessionManager& operator=(const SessionManager&) = delete;

  // Takes over an upgraded connection (`fd` is owned from here on).
  void Add(int fd, SessionInfo info);
  // The session `id`, waiting up to `timeout` for it to be added; nullptr
  // when it did not come.
  std::shared_ptr<Session> Wait(const std::string& id, std::chrono::milliseconds timeout);
  // Closes session `id` now (once no build holds it): after an error, so
  // that the CLI, which waits for its session to end, exits.
  void Close(const std::string& id);
  // Marks session `id` done: the CLI closes it after reading the build's
  // response; closing it from here first would make the CLI report the
  // HTTP/2 GOAWAY. It is dropped by a later Add.
  void Done(const std::string& id);

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    std::chrono::steady_clock::time_point added;
    std::optional<std::chrono::steady_clock::time_point> done;
  };
  void DropStale();  // REQUIRES: mu_ held

  std::mutex mu_;
  std::condition_variable added_;
  std::map<std::string, Entry> sessions_;
};

}  // namespace hoist::dockerapi
