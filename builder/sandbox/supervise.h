// The parent's side of a running step, shared by every isolation: the
// output pipe split into lines (streamed, with a bounded tail kept), the
// timeout and cancellation, seccomp notifications, and reaping the child.
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "builder/sandbox/sandbox.h"

namespace hoist::sandbox {

// Splits output into lines for RunSpec::on_output and keeps the last
// lines for RunResult::tail. Not thread-safe.
class OutputLines {
 public:
  // `keep`, when set, sees every line first; false drops it (neither
  // streamed nor kept).
  explicit OutputLines(std::function<void(std::string_view)> sink,
                       std::function<bool(std::string_view)> keep = nullptr)
      : sink_(std::move(sink)), keep_(std::move(keep)) {}
  void Feed(const char* data, size_t n);
  // Emits a last line that has no "\n".
  void Finish();
  // A line of the sandbox's own (e.g. why the command could not run).
  void Add(std::string_view line);
  std::string Tail() const;

 private:
  void Emit(std::string_view line);
  std::function<void(std::string_view)> sink_;
  std::function<bool(std::string_view)> keep_;
  std::string partial_;
  std::deque<std::string> tail_;
  size_t tail_bytes_ = 0;
};

struct SuperviseHooks {
  // Kills everything the step started (timeout, cancellation, early end).
  std::function<void()> kill;
  // A seccomp notification is pending on the listener.
  std::function<void(int listener)> on_notification;
  // Polled: true when the step is over though `child` still runs (proot
  // waits for background processes); Supervise then calls kill.
  std::function<bool()> finished;
};

struct SuperviseOutcome {
  int wait_status = 0;  // of `child`
  bool timed_out = false, cancelled = false;
};

// Runs until `child` is reaped and the output pipe reaches its end (or for
// at most 2 s more after the child is reaped). Takes ownership of
// `output_fd` (read end) and `listener_fd` (-1 for none).
SuperviseOutcome Supervise(const RunSpec& spec, pid_t child, int output_fd, int listener_fd,
                           OutputLines& out, const SuperviseHooks& hooks);

// exit_code/signal of `result` from a wait status.
void SetExit(int wait_status, RunResult* result);

}  // namespace hoist::sandbox
