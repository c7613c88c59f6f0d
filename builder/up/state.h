// What `hoist up` knows about the registry it started and each image it
// produced: .hoist/state.json (paths.h), read by `hoist status`, `hoist env`,
// `hoist down` and the next `hoist up` (which reuses a registry still
// running). The file is replaced atomically (temporary name + rename), so a
// reader never sees half of it.
//
// An image moves pending -> building | importing -> pushing -> pushed, or
// to failed with its reason and log file.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::up {

enum class ImageState { kPending, kBuilding, kImporting, kPushing, kPushed, kFailed };

std::string_view StateName(ImageState s);
std::optional<ImageState> ParseStateName(std::string_view s);

struct ImageRecord {
  std::string name;
  std::string kind;  // the strategy: dockerfile | source | command
  ImageState state = ImageState::kPending;
  std::string reference;   // <host:port>/<prefix>/<name>:<tag>
  std::string digest;      // of the pushed manifest
  bool unchanged = false;  // the registry already had this digest under the tag
  std::string detail;      // what the strategy reports ("2 steps run, 3 cached")
  std::string error;
  std::string log;                      // the image's log file
  std::string started_at, finished_at;  // RFC 3339, UTC
  double produce_seconds = 0, push_seconds = 0;
};

struct RegistryRecord {
  std::string name;
  int pid = 0;          // 0: not running
  std::string address;  // host:port
  std::string storage;  // absolute storage root
  std::string log;
  std::string started_at;
};

struct State {
  std::string file;  // the hoist.yaml this state belongs to (absolute)
  RegistryRecord registry;
  std::vector<ImageRecord> images;
  std::string updated_at;

  ImageRecord* Find(std::string_view name);
  const ImageRecord* Find(std::string_view name) const;
};

nlohmann::json ToJson(const State& s);
// kInvalidArgument when `j` is not a state document.
Result<State> StateFromJson(const nlohmann::json& j);

// Writes `s` to `path` atomically. updated_at is set to now.
Status SaveState(const std::string& path, State s);
// kNotFound when there is no state file; kInvalidArgument when it is not one.
Result<State> LoadState(const std::string& path);

// "2024-05-01T12:00:00.123Z".
std::string FormatTime(std::chrono::system_clock::time_point t);

// The state of one `hoist up` run, shared by its image jobs: every update
// is saved at once. Safe for concurrent use.
class StateStore {
 public:
  StateStore(std::string path, State initial)
      : path_(std::move(path)), state_(std::move(initial)) {}
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Applies `fn` to the record of `name` (created when missing), then saves.
  Status UpdateImage(const std::string& name, const std::function<void(ImageRecord&)>& fn);
  Status UpdateRegistry(const std::function<void(RegistryRecord&)>& fn);
  State Snapshot() const;
  Status Save();

 private:
  Status SaveLocked();  // REQUIRES: mu_ held

  const std::string path_;
  mutable std::mutex mu_;
  State state_;
};

}  // namespace hoist::up
