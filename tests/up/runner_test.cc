// builder/up/runner.h with a fake strategy and a fake pusher: the parallel
// limit, failure isolation, push retries with backoff, unchanged images,
// the state and events each job leaves.
#include "builder/up/runner.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "tests/layer/helpers.h"

namespace hoist::up {
namespace {

using layer::test::TempDir;

class RecordingEvents : public EventSink {
 public:
  void Emit(const Event& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
  }
  std::vector<Event> Of(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Event> out;
    for (const Event& e : events_) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
};

// Produces after a short sleep, counting the jobs producing at once; the
// image named "bad" fails.
class FakeStrategy : public BuildStrategy {
 public:
  ImageState ActiveState() const override { return ImageState::kBuilding; }
  std::string Describe(const ImageSpec& spec, const Context&) const override {
    return "fake " + spec.name;
  }
  Result<ProducedImage> Produce(const ImageSpec& spec, Context& ctx) override {
    REQUIRE(ctx.log != nullptr);
    int n = ++now_;
    for (int m = max_.load(); n > m && !max_.compare_exchange_weak(m, n);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --now_;
    if (spec.name == "bad") return Status(Code::kInvalidArgument, "bad Dockerfile");
    ProducedImage img;
    img.detail = "fake";
    return img;
  }
  int max() const { return max_; }

 private:
  std::atomic<int> now_{0}, max_{0};
};

// Fails `failures` times per image (with `code`), then pushes; "same" is
// already there.
class FakePusher : public Pusher {
 public:
  Result<PushOutcome> Push(ProducedImage&, const std::string& reference, Context&) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (attempts_[reference]++ < failures) return Status(code, "registry busy");
    PushOutcome o;
    o.digest = "sha256:" + std::string(64, 'b');
    o.unchanged = reference.find("/same:") != std::string::npos;
    o.uploaded = o.unchanged ? 0 : 2;
    return o;
  }
  int attempts(const std::string& ref) {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_[ref];
  }
  int failures = 0;
  Code code = Code::kIo;

 private:
  std::mutex mu_;
  std::map<std::string, int> attempts_;
};

struct Fixture {
  TempDir dir;
  UpFile file;
  StrategyTable strategies;
  FakeStrategy* fake;
  FakePusher pusher;
  RecordingEvents events;
  StateStore state{"", State{}};
  transfer::Places places{RegistryClientOptions{}};
  std::vector<Millis> slept;

  explicit Fixture(const std::vector<std::string>& names) {
    file.base_dir = dir.path();
    for (const std::string& n : names) {
      ImageSpec s;
      s.name = n;
      s.prefix = "p";
      s.kind = "fake";
      file.images.push_back(s);
    }
    auto f = std::make_unique<FakeStrategy>();
    fake = f.get();
    strategies.Register("fake", std::move(f));
  }
  RunReport Run(int parallel, int retries = 2) {
    RunSettings rs;
    rs.registry = "127.0.0.1:5000";
    rs.parallel = parallel;
    rs.retry.retries = retries;
    rs.retry.backoff = Millis(100);
    rs.sleep = [this](Millis d) { slept.push_back(d); };
    return ImageRunner(file, strategies, pusher, events, state, places, rs).Run();
  }
  const ImageRecord& Record(const std::string& name) {
    static State snap;
    snap = state.Snapshot();
    REQUIRE(snap.Find(name) != nullptr);
    return *snap.Find(name);
  }
};

TEST_CASE("up runner: six images, parallel 3: never more than 3 jobs at once", "[up]") {
  Fixture f({"a", "b", "c", "d", "e", "g"});
  RunReport r = f.Run(3);
  CHECK(r.pushed == 6);
  CHECK(r.failed == 0);
  CHECK(f.fake->max() <= 3);
  CHECK(f.fake->max() >= 2);
  CHECK(f.events.Of("pending").size() == 6);
  CHECK(f.events.Of("building").size() == 6);
  CHECK(f.events.Of("pushed").size() == 6);
  CHECK(f.Record("d").state == ImageState::kPushed);
  CHECK(f.Record("d").reference == "127.0.0.1:5000/p/d:latest");
  CHECK(f.Record("d").digest == "sha256:" + std::string(64, 'b'));
  CHECK(f.Record("d").log == f.dir.path() + "/.hoist/logs/d.log");
  CHECK(std::filesystem::exists(f.Record("d").log));
}

TEST_CASE("up runner: a failing image stops neither the others nor the run", "[up]") {
  Fixture f({"a", "bad", "c"});
  f.file.images[2].depends_on = {"bad"};
  f.file.images.push_back(f.file.images[0]);
  f.file.images[3].name = "d";
  RunReport r = f.Run(2);
  CHECK(r.pushed == 2);
  CHECK(r.failed == 2);
  CHECK(f.Record("bad").state == ImageState::kFailed);
  CHECK_THAT(f.Record("bad").error, Catch::Matchers::Contains("bad Dockerfile"));
  CHECK_THAT(f.Record("c").error,
             Catch::Matchers::Contains("not started: it depends on bad, which failed"));
  CHECK(f.Record("a").state == ImageState::kPushed);
  CHECK(f.Record("d").state == ImageState::kPushed);
  REQUIRE(f.events.Of("summary").size() == 1);
  CHECK_THAT(f.events.Of("summary")[0].message,
             Catch::Matchers::Contains("2 pushed (0 unchanged), 2 failed"));
}

TEST_CASE("up runner: pushes are retried with exponential backoff", "[up]") {
  Fixture f({"a"});
  f.pusher.failures = 2;
  RunReport r = f.Run(1, 3);
  CHECK(r.pushed == 1);
  CHECK(f.pusher.attempts("127.0.0.1:5000/p/a:latest") == 3);
  CHECK(f.slept == std::vector<Millis>{Millis(100), Millis(200)});
  REQUIRE(f.events.Of("retry").size() == 2);
  CHECK_THAT(f.events.Of("retry")[0].message,
             Catch::Matchers::StartsWith("push attempt 2 of 4 in 100ms: registry busy"));
}

TEST_CASE("up runner: retries run out, or stop at an error no retry cures", "[up]") {
  SECTION("out of retries") {
    Fixture f({"a"});
    f.pusher.failures = 10;
    RunReport r = f.Run(1, 2);
    CHECK(r.failed == 1);
    CHECK(f.pusher.attempts("127.0.0.1:5000/p/a:latest") == 3);
    CHECK_THAT(f.Record("a").error, Catch::Matchers::StartsWith(
                                        "push to 127.0.0.1:5000/p/a:latest failed: registry busy"));
  }
  SECTION("unauthorized") {
    Fixture f({"a"});
    f.pusher.failures = 10;
    f.pusher.code = Code::kUnauthorized;
    CHECK(f.Run(1, 5).failed == 1);
    CHECK(f.pusher.attempts("127.0.0.1:5000/p/a:latest") == 1);
    CHECK(f.slept.empty());
  }
}

TEST_CASE("up runner: an image the registry already has is reported unchanged", "[up]") {
  Fixture f({"same", "new"});
  RunReport r = f.Run(2);
  CHECK(r.pushed == 2);
  CHECK(r.unchanged == 1);
  CHECK(f.events.Of("unchanged").size() == 1);
  CHECK(f.Record("same").unchanged);
  CHECK_FALSE(f.Record("new").unchanged);
}

TEST_CASE("up runner: an unknown strategy kind fails that image", "[up]") {
  Fixture f({"a", "b"});
  f.file.images[1].kind = "teleport";
  RunReport r = f.Run(2);
  CHECK(r.failed == 1);
  CHECK_THAT(f.Record("b").error,
             Catch::Matchers::Contains("no strategy is registered for \"teleport\""));
}

}  // namespace
}  // namespace hoist::up
