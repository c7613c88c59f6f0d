#include "builder/up/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace hoist::up {
namespace {

enum class JobState { kWaiting, kRunning, kOk, kFailed };

}  // namespace

std::vector<bool> RunScheduled(const std::vector<std::vector<int>>& deps, int parallel,
                               const std::function<bool(int)>& run,
                               const std::function<void(int job, int failed_dep)>& skipped) {
  const int n = static_cast<int>(deps.size());
  std::vector<JobState> state(n, JobState::kWaiting);
  std::mutex mu;
  std::condition_variable cv;

  // The next job to start and, when a dependency failed, which one
  // (-1: none). REQUIRES: mu held. Returns -1 when nothing is ready.
  auto next = [&](int* failed_dep) {
    for (int i = 0; i < n; ++i) {
      if (state[i] != JobState::kWaiting) continue;
      bool ready = true;
      *failed_dep = -1;
      for (int d : deps[i]) {
        if (state[d] == JobState::kFailed) *failed_dep = d;
        if (state[d] != JobState::kOk && state[d] != JobState::kFailed) ready = false;
      }
      if (*failed_dep >= 0 || ready) return i;
    }
    return -1;
  };
  auto worker = [&] {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      int failed_dep = -1;
      int job = next(&failed_dep);
      if (job < 0) {
        bool waiting = std::any_of(state.begin(), state.end(),
                                   [](JobState s) { return s == JobState::kWaiting; });
        if (!waiting) return;
        cv.wait(lock);
        continue;
      }
      state[job] = JobState::kRunning;
      lock.unlock();
      bool ok = false;
      if (failed_dep >= 0) {
        skipped(job, failed_dep);
      } else {
        ok = run(job);
      }
      lock.lock();
      state[job] = ok ? JobState::kOk : JobState::kFailed;
      cv.notify_all();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::min(parallel, n); ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  std::vector<bool> out(n);
  for (int i = 0; i < n; ++i) out[i] = state[i] == JobState::kOk;
  return out;
}

}  // namespace hoist::up
