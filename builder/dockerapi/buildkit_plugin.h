// The seam between `hoist engine` and its BuildKit session half.
//
// BuildKit builds talk gRPC over the CLI's upgraded connection (session.cc,
// filesync.cc, buildkit_trace.cc). gRPC, protobuf and Abseil are some fifty
// shared libraries: linked into hoist, the dynamic loader's work for them
// made every hoist command start ~19 ms slower (a warm `hoist build` took
// 0.06 s instead of 0.04 s). So that half is a plugin, hoist-buildkit.so
// beside the hoist binary, which `hoist engine` loads with dlopen(3) on the
// first BuildKit request; the rest of hoist never maps it.
//
// Across the seam go only the types declared here (and Status, compiled
// into both sides); the plugin holds no other hoist code. A hoist built
// without the plugin, or one that cannot load it, answers the CLI that it
// has the classic builder only (/_ping: Builder-Version 1).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/engine/progress.h"
#include "common/status.h"

namespace hoist::dockerapi {

// Headers of POST /session.
struct SessionInfo {
  std::string id;          // X-Docker-Expose-Session-Uuid
  std::string shared_key;  // -Sharedkey: stable for one context directory
};

// One DiffCopy call of the CLI's FileSync service: which directory of the
// session, and which of its paths.
struct DiffCopyRequest {
  std::string dir_name;                       // "context" or "dockerfile"
  std::vector<std::string> followpaths;       // empty: everything
  std::vector<std::string> exclude_patterns;  // .dockerignore syntax
};

// Where a synced directory's entries go (the engine's MirrorWriter, which
// checks the paths); paths and link targets are as the CLI sent them.
class EntrySink {
 public:
  class File {
   public:
    virtual ~File() = default;
    virtual Status Write(const char* data, size_t n) = 0;
    virtual Status Commit() = 0;  // all data written
  };
  virtual ~EntrySink() = default;
  virtual Status Directory(const std::string& path, mode_t perm) = 0;
  virtual Status Symlink(const std::string& path, const std::string& target) = 0;
  virtual Status Hardlink(const std::string& path, const std::string& target) = 0;
  // A regular file: nullptr when the copy has it already (same size, mtime
  // and mode), else where its data is to go.
  virtual Result<std::unique_ptr<File>> Regular(const std::string& path, int64_t size,
                                                int64_t mtime_ns, mode_t perm) = 0;
};

// The plugin: the CLI's sessions, their file sync, BuildKit's progress.
class BuildkitSessions {
 public:
  virtual ~BuildkitSessions() = default;

  // Takes over an upgraded connection (`fd` is owned from here on).
  virtual void Add(int fd, SessionInfo info) = 0;
  // Session `id`, waiting up to `timeout` for it to be added.
  virtual std::optional<SessionInfo> Wait(const std::string& id,
                                          std::chrono::milliseconds timeout) = 0;
  // Closes session `id` now: after an error, so that the CLI, which waits
  // for its session to end, exits.
  virtual void Close(const std::string& id) = 0;
  // Marks session `id` done: the CLI closes it after reading the build's
  // response (closing it first would make the CLI report HTTP/2's GOAWAY).
  virtual void Done(const std::string& id) = 0;

  // Fetches a directory of session `id` through the CLI's FileSync
  // (fsutil's DiffCopy) into `sink`: only files the sink does not have
  // move.
  virtual Status DiffCopy(const std::string& id, const DiffCopyRequest& req, EntrySink& sink) = 0;

  // One progress event as BuildKit's StatusResponse message (protobuf
  // bytes; empty: nothing to send). `build_id` keeps the vertex digests of
  // concurrent builds apart; `warnings` counts the build's warnings.
  virtual std::string TraceMessage(const engine::ProgressEvent& e, const std::string& build_id,
                                   int* warnings) = 0;
};

// The plugin, loaded once: hoist-buildkit.so in the hoist binary's
// directory, or HOIST_BUILDKIT_PLUGIN. nullptr when it cannot be loaded
// (the reason in *why).
BuildkitSessions* LoadBuildkitPlugin(std::string* why);

}  // namespace hoist::dockerapi

// The plugin's one symbol: its sessions, made on the first call.
extern "C" hoist::dockerapi::BuildkitSessions* hoist_buildkit_sessions_v1();
