// Inside the BuildKit plugin (buildkit_plugin.h): the sessions of the
// Engine API (POST /session), which the docker CLI opens for `docker build`
// with BuildKit (DOCKER_BUILDKIT=1, or a daemon that answers /_ping with
// Builder-Version: 2):
//
//   - the CLI sends POST /session with Upgrade: h2c and the session's
//     identity in X-Docker-Expose-Session-{Uuid,Name,Sharedkey} and the
//     gRPC methods it serves in X-Docker-Expose-Session-Grpc-Method (one
//     header line each; this server keeps the last, so the engine asks
//     for a method and reads the error when it is not served);
//   - the engine answers 101 and, on that connection, the CLI is the HTTP/2
//     gRPC server and the engine its client (the build context comes over
//     its FileSync service, filesync.cc);
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

#include "builder/dockerapi/buildkit_plugin.h"

namespace grpc {
class Channel;
}

namespace hoist::dockerapi::buildkit {

// One session: the gRPC channel over the CLI's connection.
struct Session {
  SessionInfo info;
  std::shared_ptr<grpc::Channel> channel;
};

// The plugin's face (buildkit_plugin.h): the open sessions.
class Sessions final : public BuildkitSessions {
 public:
  Sessions() = default;
  ~Sessions() override;
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  void Add(int fd, SessionInfo info) override;
  std::optional<SessionInfo> Wait(const std::string& id,
                                  std::chrono::milliseconds timeout) override;
  void Close(const std::string& id) override;
  // Done sessions are dropped by a later Add (see DropStale).
  void Done(const std::string& id) override;
  Status DiffCopy(const std::string& id, const DiffCopyRequest& req, EntrySink& sink) override;
  std::string TraceMessage(const engine::ProgressEvent& e, const std::string& build_id,
                           int* warnings) override;

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    std::chrono::steady_clock::time_point added;
    std::optional<std::chrono::steady_clock::time_point> done;
  };
  void DropStale();  // REQUIRES: mu_ held
  std::shared_ptr<Session> Find(const std::string& id);

  std::mutex mu_;
  std::condition_variable added_;
  std::map<std::string, Entry> sessions_;
};

// fsutil's DiffCopy, the receiving end (filesync.cc): the CLI sends one
// STAT per entry; files the sink does not have are asked for (REQ) and
// their DATA goes to the sink as it comes.
Status DiffCopy(Session& session, const DiffCopyRequest& req, EntrySink& sink);

// A progress event as moby.buildkit.v1.StatusResponse bytes (trace.cc).
std::string TraceMessage(const engine::ProgressEvent& e, const std::string& build_id,
                         int* warnings);

}  // namespace hoist::dockerapi::buildkit
