#include "builder/up/state.h"

#include <ctime>

#include "builder/transfer/layout.h"

namespace hoist::up {
namespace {

using nlohmann::json;

constexpr size_t kMaxStateBytes = 16 << 20;

struct StateNameRow {
  ImageState state;
  std::string_view name;
};
constexpr StateNameRow kStateNames[] = {
    {ImageState::kPending, "pending"},     {ImageState::kBuilding, "building"},
    {ImageState::kImporting, "importing"}, {ImageState::kPushing, "pushing"},
    {ImageState::kPushed, "pushed"},       {ImageState::kFailed, "failed"},
};

// Members absent from an older or hand-edited file keep their defaults.
template <class T>
void Get(const json& j, const char* key, T* out) {
  if (j.contains(key) && !j[key].is_null()) *out = j[key].get<T>();
}

}  // namespace

std::string_view StateName(ImageState s) {
  for (const StateNameRow& r : kStateNames) {
    if (r.state == s) return r.name;
  }
  return "unknown";
}

std::optional<ImageState> ParseStateName(std::string_view s) {
  for (const StateNameRow& r : kStateNames) {
    if (r.name == s) return r.state;
  }
  return std::nullopt;
}

ImageRecord* State::Find(std::string_view name) {
  for (ImageRecord& r : images) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const ImageRecord* State::Find(std::string_view name) const {
  return const_cast<State*>(this)->Find(name);
}

json ToJson(const State& s) {
  json images = json::array();
  for (const ImageRecord& r : s.images) {
    images.push_back({{"name", r.name},
                      {"kind", r.kind},
                      {"state", StateName(r.state)},
                      {"reference", r.reference},
                      {"digest", r.digest},
                      {"unchanged", r.unchanged},
                      {"detail", r.detail},
                      {"error", r.error},
                      {"log", r.log},
                      {"started_at", r.started_at},
                      {"finished_at", r.finished_at},
                      {"produce_seconds", r.produce_seconds},
                      {"push_seconds", r.push_seconds}});
  }
  const RegistryRecord& g = s.registry;
  return {{"file", s.file},
          {"updated_at", s.updated_at},
          {"registry",
           {{"name", g.name},
            {"pid", g.pid},
            {"address", g.address},
            {"storage", g.storage},
            {"log", g.log},
            {"started_at", g.started_at}}},
          {"images", images}};
}

Result<State> StateFromJson(const json& j) {
  if (!j.is_object() || !j.contains("images") || !j["images"].is_array()) {
    return Status(Code::kInvalidArgument, "not a hoist up state document");
  }
  State s;
  try {
    Get(j, "file", &s.file);
    Get(j, "updated_at", &s.updated_at);
    if (j.contains("registry") && j["registry"].is_object()) {
      const json& g = j["registry"];
      Get(g, "name", &s.registry.name);
      Get(g, "pid", &s.registry.pid);
      Get(g, "address", &s.registry.address);
      Get(g, "storage", &s.registry.storage);
      Get(g, "log", &s.registry.log);
      Get(g, "started_at", &s.registry.started_at);
    }
    for (const json& i : j["images"]) {
      ImageRecord r;
      Get(i, "name", &r.name);
      Get(i, "kind", &r.kind);
      std::string state = "pending";
      Get(i, "state", &state);
      std::optional<ImageState> st = ParseStateName(state);
      if (!st)
        return Status(Code::kInvalidArgument, "image " + r.name + ": unknown state " + state);
      r.state = *st;
      Get(i, "reference", &r.reference);
      Get(i, "digest", &r.digest);
      Get(i, "unchanged", &r.unchanged);
      Get(i, "detail", &r.detail);
      Get(i, "error", &r.error);
      Get(i, "log", &r.log);
      Get(i, "started_at", &r.started_at);
      Get(i, "finished_at", &r.finished_at);
      Get(i, "produce_seconds", &r.produce_seconds);
      Get(i, "push_seconds", &r.push_seconds);
      s.images.push_back(std::move(r));
    }
  } catch (const json::exception& e) {
    return Status(Code::kInvalidArgument, std::string("malformed state: ") + e.what());
  }
  return s;
}

Status SaveState(const std::string& path, State s) {
  s.updated_at = FormatTime(std::chrono::system_clock::now());
  return transfer::WriteFileAtomic(path, ToJson(s).dump(2) + "\n");
}

Result<State> LoadState(const std::string& path) {
  Result<std::string> text = transfer::ReadSmallFile(path, kMaxStateBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, path + ": no state (has `hoist up` run here?)");
    }
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  Result<State> s = StateFromJson(j);
  if (!s.ok()) return Status(Code::kInvalidArgument, path + ": " + s.status().message());
  return s;
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Status StateStore::UpdateImage(const std::string& name,
                               const std::function<void(ImageRecord&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  ImageRecord* r = state_.Find(name);
  if (r == nullptr) {
    state_.images.push_back(ImageRecord{});
    r = &state_.images.back();
    r->name = name;
  }
  fn(*r);
  return SaveLocked();
}

Status StateStore::UpdateRegistry(const std::function<void(RegistryRecord&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  fn(state_.registry);
  return SaveLocked();
}

State StateStore::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

Status StateStore::Save() {
  std::lock_guard<std::mutex> lock(mu_);
  return SaveLocked();
}

Status StateStore::SaveLocked() {
  if (path_.empty()) return Status::Ok();  // in-memory (tests)
  return SaveState(path_, state_);
}

}  // namespace hoist::up
