#include "builder/up/events.h"

#include <chrono>

#include "builder/up/state.h"

namespace hoist::up {

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
  std::fprintf(out_, "%s\n", line.c_str());
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
