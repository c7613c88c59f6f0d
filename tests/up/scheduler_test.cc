// builder/up/scheduler.h: the parallel limit, dependency order, failure
// isolation.
#include "builder/up/scheduler.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

namespace hoist::up {
namespace {

// Counts the jobs running at once.
struct Concurrency {
  std::atomic<int> now{0}, max{0};
  void Enter() {
    int n = ++now;
    int m = max.load();
    while (n > m && !max.compare_exchange_weak(m, n)) {
    }
  }
  void Leave() { --now; }
};

TEST_CASE("up scheduler: never more than `parallel` jobs at once", "[up]") {
  for (int parallel : {1, 3}) {
    Concurrency c;
    std::vector<std::vector<int>> deps(6);
    std::vector<bool> ok = RunScheduled(
        deps, parallel,
        [&](int) {
          c.Enter();
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          c.Leave();
          return true;
        },
        [](int, int) { FAIL("nothing is skipped"); });
    CHECK(ok == std::vector<bool>(6, true));
    CHECK(c.max == parallel);
  }
}

TEST_CASE("up scheduler: a job starts after its dependencies succeeded", "[up]") {
  // 0 <- 1 <- 2, 3 free.
  std::vector<std::vector<int>> deps = {{}, {0}, {1}, {}};
  std::mutex mu;
  std::vector<int> order;
  std::vector<bool> ok = RunScheduled(
      deps, 4,
      [&](int i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 30 : 1));
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
        return true;
      },
      [](int, int) { FAIL("nothing is skipped"); });
  CHECK(ok == std::vector<bool>(4, true));
  auto pos = [&](int i) { return std::find(order.begin(), order.end(), i) - order.begin(); };
  CHECK(pos(0) < pos(1));
  CHECK(pos(1) < pos(2));
}

TEST_CASE("up scheduler: a failure skips its dependents only", "[up]") {
  // 0 fails; 1 needs 0; 2 needs 1; 3 and 4 are independent.
  std::vector<std::vector<int>> deps = {{}, {0}, {1}, {}, {3}};
  std::mutex mu;
  std::vector<std::pair<int, int>> skipped;
  std::vector<bool> ok = RunScheduled(
      deps, 2, [](int i) { return i != 0; },
      [&](int i, int dep) {
        std::lock_guard<std::mutex> lock(mu);
        skipped.push_back({i, dep});
      });
  CHECK(ok == std::vector<bool>{false, false, false, true, true});
  std::sort(skipped.begin(), skipped.end());
  CHECK(skipped == std::vector<std::pair<int, int>>{{1, 0}, {2, 1}});
}

TEST_CASE("up scheduler: no jobs", "[up]") {
  CHECK(RunScheduled(
            {}, 3, [](int) { return true; }, [](int, int) {})
            .empty());
}

}  // namespace
}  // namespace hoist::up
