#include "builder/engine/progress.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <optional>

namespace hoist::engine {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

std::string Fixed1(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

BuildProgress::BuildProgress(ProgressStyle style, std::FILE* out) : style_(style), out_(out) {}

BuildProgress::~BuildProgress() {
  std::lock_guard<std::mutex> lock(mu_);
  running_.clear();
  Redraw();
}

void BuildProgress::Line(const std::string& s) {
  if (style_ == ProgressStyle::kTty && status_shown_) {
    std::fputs("\r\033[K", out_);
    status_shown_ = false;
  }
  std::fputs(s.c_str(), out_);
  std::fputc('\n', out_);
}

void BuildProgress::Redraw() {
  if (style_ != ProgressStyle::kTty) {
    std::fflush(out_);
    return;
  }
  std::fputs("\r\033[K", out_);
  status_shown_ = false;
  if (!running_.empty()) {
    std::string s = "=> ";
    for (const auto& [id, v] : running_) {
      if (s.size() > 3) s += ", ";
      s += "#" + std::to_string(id) + " " + v.name;
    }
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    std::fputs(s.c_str(), out_);
    status_shown_ = true;
  }
  std::fflush(out_);
}

void BuildProgress::Notify(ProgressEvent::Kind kind, int id, const std::string& name,
                           const std::string& text, std::chrono::system_clock::time_point started) {
  if (!observer_) return;
  ProgressEvent e{kind, id, name, text, std::chrono::system_clock::now(), started};
  observer_(e);
}

int BuildProgress::Start(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  int id = next_++;
  auto wall = std::chrono::system_clock::now();
  running_[id] = Vertex{name, std::chrono::steady_clock::now(), wall};
  Notify(ProgressEvent::kStart, id, name, "", wall);
  if (style_ == ProgressStyle::kJson) {
    nlohmann::json j = {{"time", Now()}, {"event", "start"}, {"id", id}, {"name", name}};
    Line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (style_ != ProgressStyle::kQuiet) {
    Line("\n#" + std::to_string(id) + " " + name);
  }
  Redraw();
  return id;
}

void BuildProgress::Log(int id, const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (observer_) {
    auto it = running_.find(id);
    Notify(ProgressEvent::kLog, id, it == running_.end() ? "" : it->second.name, line,
           it == running_.end() ? std::chrono::system_clock::now() : it->second.wall_start);
  }
  if (style_ == ProgressStyle::kJson) {
    nlohmann::json j = {{"time", Now()}, {"event", "log"}, {"id", id}, {"message", line}};
    Line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (style_ != ProgressStyle::kQuiet) {
    auto it = running_.find(id);
    std::string t = it == running_.end() ? "" : Fixed1(Seconds(it->second.start)) + " ";
    Line("#" + std::to_string(id) + " " + t + line);
  }
  Redraw();
}

void BuildProgress::Finish(int id, const char* event, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(id);
  double secs = it == running_.end() ? 0 : Seconds(it->second.start);
  std::string name = it == running_.end() ? "" : it->second.name;
  if (observer_) {
    std::string ev = event;
    Notify(ev == "done" ? ProgressEvent::kDone
                        : (ev == "cached" ? ProgressEvent::kCached : ProgressEvent::kError),
           id, name, text,
           it == running_.end() ? std::chrono::system_clock::now() : it->second.wall_start);
  }
  if (it != running_.end()) running_.erase(it);
  if (style_ == ProgressStyle::kJson) {
    nlohmann::json j = {
        {"time", Now()}, {"event", event}, {"id", id}, {"name", name}, {"seconds", secs}};
    if (!text.empty()) j["message"] = text;
    Line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (style_ != ProgressStyle::kQuiet) {
    std::string prefix = "#" + std::to_string(id) + " ";
    if (std::string(event) == "done") {
      Line(prefix + "DONE " + Fixed1(secs));
    } else if (std::string(event) == "cached") {
      Line(prefix + "CACHED");
    } else {
      Line(prefix + "ERROR: " + text);
    }
  }
  Redraw();
}

void BuildProgress::Done(int id) {
  Finish(id, "done", "");
}
void BuildProgress::Cached(int id) {
  Finish(id, "cached", "");
}
void BuildProgress::Error(int id, const std::string& message) {
  Finish(id, "error", message);
}

void BuildProgress::Message(const std::string& kind, const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  Notify(ProgressEvent::kMessage, 0, kind, line, std::chrono::system_clock::now());
  if (style_ == ProgressStyle::kJson) {
    nlohmann::json j = {{"time", Now()}, {"event", kind}, {"message", line}};
    Line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (style_ != ProgressStyle::kQuiet) {
    Line(line);
  }
  Redraw();
}

void BuildProgress::Event(const std::string& kind, const std::string& json_fields) {
  if (style_ != ProgressStyle::kJson) return;
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j = nlohmann::json::parse(json_fields, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  j["time"] = Now();
  j["event"] = kind;
  Line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  Redraw();
}

std::optional<ProgressStyle> ParseProgressStyle(const std::string& s, std::FILE* out) {
  if (s == "auto" || s.empty()) {
    return ::isatty(::fileno(out)) ? ProgressStyle::kTty : ProgressStyle::kPlain;
  }
  if (s == "plain") return ProgressStyle::kPlain;
  if (s == "tty") return ProgressStyle::kTty;
  if (s == "json" || s == "rawjson") return ProgressStyle::kJson;
  if (s == "quiet") return ProgressStyle::kQuiet;
  return std::nullopt;
}

}  // namespace hoist::engine
