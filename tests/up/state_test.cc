// builder/up/state.h: state.json round trips, atomic saves, concurrent
// updates.
#include "builder/up/state.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "tests/layer/helpers.h"

namespace hoist::up {
namespace {

using layer::test::TempDir;

State Sample() {
  State s;
  s.file = "/p/hoist.yaml";
  s.registry = {"local",
                4242,
                "127.0.0.1:5000",
                "/p/.hoist/registry",
                "/p/.hoist/logs/registry.log",
                "2024-01-01T00:00:00.000Z"};
  ImageRecord a;
  a.name = "app";
  a.kind = "dockerfile";
  a.state = ImageState::kPushed;
  a.reference = "127.0.0.1:5000/demo/app:latest";
  a.digest = "sha256:" + std::string(64, 'a');
  a.unchanged = true;
  a.detail = "0 step(s) run, 2 cached";
  a.log = "/p/.hoist/logs/app.log";
  a.started_at = "2024-01-01T00:00:01.000Z";
  a.finished_at = "2024-01-01T00:00:02.000Z";
  a.produce_seconds = 0.5;
  a.push_seconds = 0.25;
  ImageRecord b;
  b.name = "broken";
  b.kind = "command";
  b.state = ImageState::kFailed;
  b.error = "command failed: exit status 2";
  s.images = {a, b};
  return s;
}

TEST_CASE("up state: JSON round trip keeps every field", "[up]") {
  State s = Sample();
  Result<State> back = StateFromJson(ToJson(s));
  REQUIRE(back.ok());
  CHECK(ToJson(*back) == ToJson(s));
  CHECK(back->registry.pid == 4242);
  REQUIRE(back->Find("app") != nullptr);
  CHECK(back->Find("app")->state == ImageState::kPushed);
  CHECK(back->Find("app")->unchanged);
  CHECK(back->Find("broken")->error == "command failed: exit status 2");
  CHECK(back->Find("none") == nullptr);
}

TEST_CASE("up state: state names", "[up]") {
  for (ImageState s : {ImageState::kPending, ImageState::kBuilding, ImageState::kImporting,
                       ImageState::kPushing, ImageState::kPushed, ImageState::kFailed}) {
    CHECK(ParseStateName(StateName(s)) == s);
  }
  CHECK(StateName(ImageState::kImporting) == "importing");
  CHECK_FALSE(ParseStateName("done"));
}

TEST_CASE("up state: save and load through the file", "[up]") {
  TempDir dir;
  std::string path = dir / "state.json";
  CHECK(LoadState(path).status().code() == Code::kNotFound);
  REQUIRE(SaveState(path, Sample()).ok());
  Result<State> back = LoadState(path);
  REQUIRE(back.ok());
  CHECK_FALSE(back->updated_at.empty());
  CHECK(back->images.size() == 2);
  CHECK(back->registry.address == "127.0.0.1:5000");
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  CHECK(files == 1);
}

TEST_CASE("up state: a file that is not a state is an error naming it", "[up]") {
  TempDir dir;
  std::string path = dir / "state.json";
  std::ofstream(path) << "{\"images\": 3}";
  Result<State> s = LoadState(path);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Code::kInvalidArgument);
  CHECK_THAT(s.status().message(), Catch::Matchers::Contains(path));
  std::ofstream(path) << R"({"images": [{"name": "a", "state": "exploded"}]})";
  CHECK_THAT(LoadState(path).status().message(),
             Catch::Matchers::Contains("unknown state exploded"));
}

TEST_CASE("up state: concurrent updates all land in the saved file", "[up]") {
  TempDir dir;
  std::string path = dir / "state.json";
  StateStore store(path, State{});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 10; ++i) {
        REQUIRE(store
                    .UpdateImage("img" + std::to_string(t),
                                 [i](ImageRecord& r) {
                                   r.state = i == 9 ? ImageState::kPushed : ImageState::kPushing;
                                 })
                    .ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Result<State> back = LoadState(path);
  REQUIRE(back.ok());
  CHECK(back->images.size() == 8);
  for (const ImageRecord& r : back->images) CHECK(r.state == ImageState::kPushed);
}

TEST_CASE("up state: times are RFC 3339 UTC with milliseconds", "[up]") {
  auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  CHECK(FormatTime(t) == "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace hoist::up
