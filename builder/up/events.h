// The lifecycle of `hoist up` as events: one line each on the console, or
// one JSON object per line with --json:
//
//   init        the file was read; resources are being set up
//   registry    the registry process is starting (attempt n of m)
//   retry       a start or a push failed and is tried again after a delay
//   endpoint    the registry's address is allocated (and saved in state.json)
//   ready       the health check passed
//   reused      a registry a previous `hoist up -d` left running is used
//   pending | building | importing | pushing | pushed | unchanged | failed
//               an image changed state ("image" names it)
//   summary     every image job ended
//   stopping | stopped | unhealthy | healthy     the registry, after `up`
//
// JSON lines: {"time": RFC 3339, "ts_ms": epoch ms, "event": kind,
// "image": name (image events only), "message": the console text, ...}.
#pragma once

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace hoist::up {

struct Event {
  std::string kind;
  std::string image;                                 // "" for events of the whole run
  std::string message;                               // the console text
  nlohmann::json fields = nlohmann::json::object();  // extra JSON members
};

// Receives events from any thread. Implementations are safe for
// concurrent use.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Emit(const Event& e) = 0;
};

// Writes "[subject] kind: message" lines (subject: the image, or "up"), or
// JSON lines, to `out`, flushing after each. When `out` is a terminal (and
// not JSON), a live table of the images and their states stays under the
// lines, redrawn on every event until the summary.
class ConsoleEvents : public EventSink {
 public:
  ConsoleEvents(std::FILE* out, bool json);
  void Emit(const Event& e) override;
  bool json() const { return json_; }

 private:
  std::string LiveTable() const;  // REQUIRES: mu_ held

  std::FILE* out_;
  bool json_;
  bool live_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> states_;  // image -> state, in first-seen order
  int drawn_ = 0;                                            // lines of the table on screen
};

// `s` with every line after the first indented by `indent`, so a multi-line
// message (a Dockerfile diagnostic) stays under its list item.
std::string IndentLines(const std::string& s, const std::string& indent);

}  // namespace hoist::up
