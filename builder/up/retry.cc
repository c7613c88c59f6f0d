#include "builder/up/retry.h"

#include <algorithm>
#include <thread>

namespace hoist::up {

Millis RetryPolicy::Delay(int n) const {
  int64_t d = backoff.count();
  for (int i = 1; i < n && d < max_backoff.count(); ++i) d *= 2;
  return Millis(std::min(d, max_backoff.count()));
}

RetryPolicy RetryPolicy::From(const BuildSettings& b) {
  RetryPolicy p;
  p.retries = b.retries;
  p.backoff = b.backoff;
  p.max_backoff = std::max(Millis(30000), b.backoff);
  return p;
}

void RealSleep(Millis d) {
  std::this_thread::sleep_for(d);
}

Status Retry(const RetryPolicy& policy, const std::function<Status(int attempt)>& attempt,
             const std::function<bool(const Status&)>& retryable,
             const std::function<void(int, Millis, const Status&)>& on_retry,
             const Sleeper& sleep) {
  Status st = attempt(1);
  for (int n = 1; !st.ok() && n <= policy.retries && retryable(st); ++n) {
    Millis delay = policy.Delay(n);
    if (on_retry) on_retry(n, delay, st);
    sleep(delay);
    st = attempt(n + 1);
  }
  return st;
}

}  // namespace hoist::up
