#include "builder/up/events.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "builder/up/state.h"

namespace hoist::up {

namespace {

bool IsImageState(const std::string& kind) {
  for (const char* k :
       {"pending", "building", "importing", "pushing", "pushed", "unchanged", "failed"}) {
    if (kind == k) return true;
  }
  return false;
}

}  // namespace

ConsoleEvents::ConsoleEvents(std::FILE* out, bool json)
    : out_(out), json_(json), live_(!json && ::isatty(::fileno(out)) != 0) {}

std::string ConsoleEvents::LiveTable() const {
  size_t width = 5;
  for (const auto& [name, state] : states_) width = std::max(width, name.size());
  std::string t;
  for (const auto& [name, state] : states_) {
    const char* color = state == "pushed" || state == "unchanged" ? "\033[32m"
                        : state == "failed"                       ? "\033[31m"
                        : state == "pending"                      ? "\033[2m"
                                                                  : "\033[33m";
    t += "  " + name + std::string(width - name.size() + 2, ' ') + color + state + "\033[0m\n";
  }
  return t;
}

void ConsoleEvents::Emit(const Event& e) {
  auto now = std::chrono::system_clock::now();
  std::string line;
  if (json_) {
    nlohmann::ordered_json j = {
        {"time", FormatTime(now)},
        {"ts_ms",
         std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()},
        {"event", e.kind}};
    if (!e.image.empty()) j["image"] = e.image;
    j["message"] = e.message;
    for (auto it = e.fields.begin(); it != e.fields.end(); ++it) j[it.key()] = it.value();
    line = j.dump();
  } else {
    line = "[" + (e.image.empty() ? std::string("up") : e.image) + "] " + e.kind +
           (e.message.empty() ? "" : ": " + e.message);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!live_) {
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
    return;
  }
  if (!e.image.empty() && IsImageState(e.kind)) {
    auto it = std::find_if(states_.begin(), states_.end(),
                           [&](const auto& p) { return p.first == e.image; });
    if (it == states_.end()) {
      states_.emplace_back(e.image, e.kind);
    } else {
      it->second = e.kind;
    }
  }
  // Erase the table, print the line above it, draw it again.
  if (drawn_ > 0) std::fprintf(out_, "\033[%dA\033[J", drawn_);
  std::fprintf(out_, "%s\n", line.c_str());
  drawn_ = 0;
  if (e.kind == "summary") live_ = false;  // the final table follows
  if (live_ && !states_.empty()) {
    std::string table = LiveTable();
    std::fputs(table.c_str(), out_);
    drawn_ = static_cast<int>(std::count(table.begin(), table.end(), '\n'));
  }
  std::fflush(out_);
}

std::string IndentLines(const std::string& s, const std::string& indent) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += indent;
  }
  return out;
}

}  // namespace hoist::up
