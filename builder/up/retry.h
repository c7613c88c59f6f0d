// Retries with exponential backoff, for the steps of `hoist up` that may
// fail for a while and then work: starting the registry (its port may be
// taken for a moment) and pushing an image (the registry may be busy).
// Single requests are already retried by the registry client
// (common/registry_client.h); this is the retry of the whole step.
#pragma once

#include <chrono>
#include <functional>

#include "builder/up/config.h"
#include "common/status.h"

namespace hoist::up {

struct RetryPolicy {
  int retries = 3;            // tries after the first
  Millis backoff{1000};       // before the first retry
  Millis max_backoff{30000};  // no delay is longer

  // The delay before retry `n` (1-based): backoff * 2^(n-1), at most
  // max_backoff.
  Millis Delay(int n) const;
  // build.retries and build.backoff; the cap is max(30s, backoff).
  static RetryPolicy From(const BuildSettings& b);
};

// Sleeps for a delay; tests pass one that records instead.
using Sleeper = std::function<void(Millis)>;
void RealSleep(Millis d);

// Calls attempt(n) for n = 1, 2, ... until it returns OK, `retryable`
// rejects its error, or policy.retries retries have failed; returns the last
// Status. Before retry n it calls on_retry(n, delay, last error) (may be
// null) and then sleep(delay).
Status Retry(const RetryPolicy& policy, const std::function<Status(int attempt)>& attempt,
             const std::function<bool(const Status&)>& retryable,
             const std::function<void(int, Millis, const Status&)>& on_retry,
             const Sleeper& sleep = RealSleep);

}  // namespace hoist::up
