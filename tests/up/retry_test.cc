// builder/up/retry.h: exponential backoff and when retries stop.
#include "builder/up/retry.h"

#include <catch2/catch.hpp>
#include <vector>

namespace hoist::up {
namespace {

TEST_CASE("up retry: delays double up to the cap", "[up]") {
  RetryPolicy p;
  p.backoff = Millis(100);
  p.max_backoff = Millis(1000);
  CHECK(p.Delay(1) == Millis(100));
  CHECK(p.Delay(2) == Millis(200));
  CHECK(p.Delay(3) == Millis(400));
  CHECK(p.Delay(4) == Millis(800));
  CHECK(p.Delay(5) == Millis(1000));
  CHECK(p.Delay(60) == Millis(1000));
}

TEST_CASE("up retry: the policy comes from build settings", "[up]") {
  BuildSettings b;
  b.retries = 7;
  b.backoff = Millis(50);
  RetryPolicy p = RetryPolicy::From(b);
  CHECK(p.retries == 7);
  CHECK(p.backoff == Millis(50));
  CHECK(p.max_backoff == Millis(30000));
  b.backoff = Millis(60000);
  CHECK(RetryPolicy::From(b).max_backoff == Millis(60000));
}

struct Recorder {
  std::vector<Millis> slept;
  std::vector<int> retried;
  Sleeper sleeper() {
    return [this](Millis d) { slept.push_back(d); };
  }
  std::function<void(int, Millis, const Status&)> on_retry() {
    return [this](int n, Millis, const Status&) { retried.push_back(n); };
  }
};

const auto kAlways = [](const Status&) { return true; };

TEST_CASE("up retry: succeeds on a later attempt after backoff", "[up]") {
  RetryPolicy p;
  p.retries = 3;
  p.backoff = Millis(10);
  Recorder r;
  std::vector<int> attempts;
  Status st = Retry(
      p,
      [&](int n) {
        attempts.push_back(n);
        return n < 3 ? Status(Code::kIo, "busy") : Status::Ok();
      },
      kAlways, r.on_retry(), r.sleeper());
  CHECK(st.ok());
  CHECK(attempts == std::vector<int>{1, 2, 3});
  CHECK(r.retried == std::vector<int>{1, 2});
  CHECK(r.slept == std::vector<Millis>{Millis(10), Millis(20)});
}

TEST_CASE("up retry: gives up after the retries, returning the last error", "[up]") {
  RetryPolicy p;
  p.retries = 2;
  p.backoff = Millis(5);
  Recorder r;
  int calls = 0;
  Status st = Retry(
      p,
      [&](int n) {
        ++calls;
        return Status(Code::kIo, "try " + std::to_string(n));
      },
      kAlways, r.on_retry(), r.sleeper());
  CHECK(st.message() == "try 3");
  CHECK(calls == 3);
  CHECK(r.slept.size() == 2);
}

TEST_CASE("up retry: errors another try cannot cure stop at once", "[up]") {
  RetryPolicy p;
  Recorder r;
  int calls = 0;
  Status st = Retry(
      p,
      [&](int) {
        ++calls;
        return Status(Code::kInvalidArgument, "bad");
      },
      [](const Status& s) { return s.code() != Code::kInvalidArgument; }, r.on_retry(),
      r.sleeper());
  CHECK_FALSE(st.ok());
  CHECK(calls == 1);
  CHECK(r.slept.empty());
}

TEST_CASE("up retry: zero retries tries once", "[up]") {
  RetryPolicy p;
  p.retries = 0;
  int calls = 0;
  Status st = Retry(
      p,
      [&](int) {
        ++calls;
        return Status(Code::kIo, "x");
      },
      kAlways, nullptr, [](Millis) { FAIL("no sleep expected"); });
  CHECK(calls == 1);
  CHECK_FALSE(st.ok());
}

}  // namespace
}  // namespace hoist::up
