#include "builder/sandbox/supervise.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace hoist::sandbox {
namespace {

constexpr size_t kMaxLine = 64 * 1024;
constexpr size_t kTailLines = 20;
constexpr size_t kTailBytes = 4096;
constexpr auto kDrainAfterExit = std::chrono::seconds(2);
constexpr int kTickMs = 100;

using Clock = std::chrono::steady_clock;

}  // namespace

void OutputLines::Feed(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (data[i] == '\n') {
      Emit(partial_);
      partial_.clear();
      continue;
    }
    partial_.push_back(data[i]);
    if (partial_.size() >= kMaxLine) {
      Emit(partial_);
      partial_.clear();
    }
  }
}

void OutputLines::Finish() {
  if (!partial_.empty()) Emit(partial_);
  partial_.clear();
}

void OutputLines::Add(std::string_view line) {
  Finish();
  Emit(line);
}

void OutputLines::Emit(std::string_view line) {
  if (keep_ && !keep_(line)) return;
  if (sink_) sink_(line);
  std::string kept(line.substr(0, kTailBytes));
  tail_bytes_ += kept.size() + 1;
  tail_.push_back(std::move(kept));
  while (tail_.size() > kTailLines || (tail_bytes_ > kTailBytes && tail_.size() > 1)) {
    tail_bytes_ -= tail_.front().size() + 1;
    tail_.pop_front();
  }
}

std::string OutputLines::Tail() const {
  std::string s;
  for (const std::string& l : tail_) s += l + "\n";
  return s;
}

void SetExit(int wait_status, RunResult* result) {
  if (WIFSIGNALED(wait_status)) {
    result->signal = WTERMSIG(wait_status);
    result->exit_code = 128 + result->signal;
  } else {
    result->exit_code = WEXITSTATUS(wait_status);
    result->signal = 0;
  }
}

SuperviseOutcome Supervise(const RunSpec& spec, pid_t child, int output_fd, int listener_fd,
                           OutputLines& out, const SuperviseHooks& hooks) {
  SuperviseOutcome o;
  const bool has_deadline = spec.timeout.count() > 0;
  const Clock::time_point deadline = Clock::now() + spec.timeout;
  Clock::time_point drain_until{};
  bool reaped = false, killed = false;
  auto kill = [&] {
    if (!killed && hooks.kill) hooks.kill();
    killed = true;
  };
  char buf[65536];
  while (output_fd >= 0 || !reaped) {
    if (reaped && Clock::now() >= drain_until) break;
    pollfd fds[2];
    int nfds = 0;
    if (output_fd >= 0) fds[nfds++] = {output_fd, POLLIN, 0};
    if (listener_fd >= 0) fds[nfds++] = {listener_fd, POLLIN, 0};
    int wait_ms = kTickMs;
    if (has_deadline && !killed) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      wait_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(wait_ms, left)));
    }
    int pr = ::poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    if (pr > 0) {
      for (int i = 0; i < nfds; ++i) {
        if (fds[i].revents == 0) continue;
        if (fds[i].fd == output_fd) {
          ssize_t n = ::read(output_fd, buf, sizeof buf);
          if (n > 0) {
            out.Feed(buf, static_cast<size_t>(n));
          } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            ::close(output_fd);
            output_fd = -1;
          }
        } else if (fds[i].revents & POLLIN) {
          if (hooks.on_notification) hooks.on_notification(listener_fd);
        } else {
          // POLLHUP: no process uses the filter any more.
          ::close(listener_fd);
          listener_fd = -1;
        }
      }
    }
    if (!reaped) {
      int st = 0;
      pid_t w = ::waitpid(child, &st, WNOHANG);
      if (w == child || (w < 0 && errno == ECHILD)) {
        reaped = true;
        o.wait_status = st;
        drain_until = Clock::now() + kDrainAfterExit;
      }
    }
    if (!killed && !reaped) {
      if (has_deadline && Clock::now() >= deadline) {
        o.timed_out = true;
        kill();
      } else if (spec.cancel != nullptr && spec.cancel->load()) {
        o.cancelled = true;
        kill();
      } else if (hooks.finished && hooks.finished()) {
        kill();
      }
    }
  }
  out.Finish();
  if (output_fd >= 0) ::close(output_fd);
  if (listener_fd >= 0) ::close(listener_fd);
  return o;
}

}  // namespace hoist::sandbox
