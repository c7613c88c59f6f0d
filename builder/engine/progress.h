// What a build reports while it runs, BuildKit's way: numbered vertices
// ("#5 [build 2/3] COPY a /a"), each ending DONE with its duration,
// CACHED, or ERROR; log lines under a vertex; warnings. Renderings:
//   - plain: BuildKit's --progress=plain text, one line per event, to a
//     FILE (stderr); what `auto` gives when stderr is not a terminal;
//   - tty: the same lines, with the running vertices' names kept on one
//     status line at the bottom that is redrawn (`auto` on a terminal);
//   - json: one JSON object per event and line ({"id","name","event",...}),
//     for machines;
//   - quiet: nothing.
// Safe for concurrent use: stages building in parallel report from
// their own threads.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hoist::engine {

enum class ProgressStyle { kPlain, kTty, kJson, kQuiet };

// One event as an observer sees it (BuildProgress::Observe): other
// renderers, e.g. the Engine API's BuildKit trace for the docker CLI.
struct ProgressEvent {
  enum Kind { kStart, kLog, kDone, kCached, kError, kMessage } kind;
  int id = 0;        // the vertex (0 for kMessage)
  std::string name;  // the vertex's name; kMessage: its kind ("warning")
  std::string text;  // kLog: the line; kError: the message; kMessage: the line
  std::chrono::system_clock::time_point time;
  std::chrono::system_clock::time_point started;  // the vertex's start
};

class BuildProgress {
 public:
  // Text goes to `out`; JSON events too (one per line).
  BuildProgress(ProgressStyle style, std::FILE* out);
  ~BuildProgress();
  BuildProgress(const BuildProgress&) = delete;
  BuildProgress& operator=(const BuildProgress&) = delete;

  // Starts a vertex named `name`; returns its number.
  int Start(const std::string& name);
  void Log(int id, const std::string& line);
  void Done(int id);
  void Cached(int id);
  void Error(int id, const std::string& message);
  // A line outside any vertex ("WARNING: ...", the final summary). In JSON:
  // {"event": kind, "message": line}.
  void Message(const std::string& kind, const std::string& line);
  // JSON only: a free-form event (e.g. the build's result), merged with
  // {"event": kind}.
  void Event(const std::string& kind, const std::string& json_fields);

  ProgressStyle style() const { return style_; }
  // Every event also goes to `observer`, in order, under the progress's
  // lock (set before the build starts).
  void Observe(std::function<void(const ProgressEvent&)> observer) {
    observer_ = std::move(observer);
  }

 private:
  struct Vertex {
    std::string name;
    std::chrono::steady_clock::time_point start;
    std::chrono::system_clock::time_point wall_start;
  };
  void Notify(ProgressEvent::Kind kind, int id, const std::string& name, const std::string& text,
              std::chrono::system_clock::time_point started);  // REQUIRES: mu_ held
  void Line(const std::string& s);                             // REQUIRES: mu_ held
  void Finish(int id, const char* event, const std::string& text);
  void Redraw();  // REQUIRES: mu_ held

  ProgressStyle style_;
  std::FILE* out_;
  std::mutex mu_;
  int next_ = 1;
  std::map<int, Vertex> running_;
  bool status_shown_ = false;
  std::function<void(const ProgressEvent&)> observer_;
};

// "auto" | "plain" | "tty" | "json" | "quiet"; auto picks tty when `out`
// is a terminal. nullopt for anything else.
std::optional<ProgressStyle> ParseProgressStyle(const std::string& s, std::FILE* out);

}  // namespace hoist::engine
