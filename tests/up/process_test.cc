// builder/up/process.h and CommandStrategy (strategies.h): spawning, exit
// statuses, deadlines that kill a whole process group, the environment a
// command gets.
#include "builder/up/process.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "builder/up/strategies.h"
#include "tests/layer/helpers.h"

namespace hoist::up {
namespace {

using layer::test::TempDir;
using std::chrono::milliseconds;

TEST_CASE("up process: exit statuses and output", "[up]") {
  TempDir dir;
  std::FILE* out = std::fopen((dir / "out").c_str(), "w");
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo \"$GREETING from $(pwd)\"; exit 4"};
  o.env = {"GREETING=hello"};
  o.cwd = dir.path();
  o.output_fd = fileno(out);
  Result<pid_t> pid = Spawn(o);
  REQUIRE(pid.ok());
  std::optional<int> st = WaitUntil(*pid, Clock::now() + std::chrono::seconds(10));
  std::fclose(out);
  REQUIRE(st);
  CHECK(DescribeWaitStatus(*st) == "exit status 4");
  CHECK(layer::test::ReadFile(dir / "out") == "hello from " + dir.path() + "\n");
}

TEST_CASE("up process: a missing program exits 127", "[up]") {
  SpawnOptions o;
  o.argv = {"/no/such/program"};
  Result<pid_t> pid = Spawn(o);
  REQUIRE(pid.ok());
  std::optional<int> st = WaitUntil(*pid, Clock::now() + std::chrono::seconds(10));
  REQUIRE(st);
  CHECK(DescribeWaitStatus(*st) == "exit status 127");
}

TEST_CASE("up process: Stop ends a process group, children included", "[up]") {
  TempDir dir;
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "sleep 60 & echo $! > " + (dir / "child") + "; wait"};
  o.new_process_group = true;
  Result<pid_t> pid = Spawn(o);
  REQUIRE(pid.ok());
  CHECK_FALSE(WaitUntil(*pid, Clock::now() + milliseconds(300)));
  CHECK(Alive(*pid));
  std::vector<std::string> argv = Cmdline(*pid);
  REQUIRE(argv.size() >= 2);
  CHECK(argv[0] == "/bin/sh");
  pid_t child = std::stoi(layer::test::ReadFile(dir / "child"));
  CHECK(Alive(child));
  CHECK(Stop(*pid, /*group=*/true, milliseconds(2000)));
  CHECK_FALSE(Alive(*pid));
  for (int i = 0; i < 100 && Alive(child); ++i) std::this_thread::sleep_for(milliseconds(20));
  CHECK_FALSE(Alive(child));
  CHECK(Cmdline(*pid).empty());
}

TEST_CASE("up process: signals are unblocked in the child", "[up]") {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  SpawnOptions o;
  o.argv = {"/bin/sleep", "30"};
  Result<pid_t> pid = Spawn(o);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  REQUIRE(pid.ok());
  ::kill(*pid, SIGTERM);
  std::optional<int> st = WaitUntil(*pid, Clock::now() + std::chrono::seconds(5));
  REQUIRE(st);
  CHECK(DescribeWaitStatus(*st) == "killed by signal 15");
}

struct CommandFixture {
  TempDir dir;
  ImageSpec spec;
  Context ctx;
  std::FILE* log;
  CommandFixture() {
    spec.name = "cmd";
    spec.kind = "command";
    ctx.registry = "127.0.0.1:5000";
    ctx.base_dir = dir.path();
    ctx.work_dir = dir / ".hoist/work/cmd";
    ctx.log_path = dir / "cmd.log";
    log = std::fopen(ctx.log_path.c_str(), "w");
    ctx.log = log;
  }
  ~CommandFixture() { std::fclose(log); }
  Result<ProducedImage> Run(const std::string& run) {
    spec.command.run = run;
    CommandStrategy s;
    Result<ProducedImage> r = s.Produce(spec, ctx);
    std::fflush(log);
    return r;
  }
};

TEST_CASE("up command strategy: the environment and a failing exit", "[up]") {
  CommandFixture f;
  Result<ProducedImage> r =
      f.Run("echo \"$REGISTRY $HOIST_IMAGE $HOIST_REFERENCE $HOIST_OUTPUT\"; exit 2");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "command failed: exit status 2 (log: " + f.ctx.log_path + ")");
  CHECK_THAT(layer::test::ReadFile(f.ctx.log_path),
             Catch::Matchers::Contains("127.0.0.1:5000 cmd 127.0.0.1:5000/cmd:latest " +
                                       f.ctx.work_dir + "/out\n"));
}

TEST_CASE("up command strategy: no layout in HOIST_OUTPUT", "[up]") {
  CommandFixture f;
  Result<ProducedImage> r = f.Run("touch \"$HOIST_OUTPUT/not-a-layout\"");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(
      r.status().message(),
      Catch::Matchers::StartsWith("the command left no usable OCI image layout in HOIST_OUTPUT"));
}

TEST_CASE("up command strategy: the deadline kills the command", "[up]") {
  CommandFixture f;
  f.ctx.deadline = Clock::now() + milliseconds(300);
  Clock::time_point start = Clock::now();
  Result<ProducedImage> r = f.Run("sleep 30");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(),
             Catch::Matchers::StartsWith("command: timed out (build.timeout) and was killed"));
  CHECK(Clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("up command strategy: cancellation kills the command", "[up]") {
  CommandFixture f;
  Clock::time_point start = Clock::now();
  f.ctx.cancelled = [start] { return Clock::now() - start > milliseconds(200); };
  Result<ProducedImage> r = f.Run("sleep 30");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Matchers::StartsWith("command: interrupted"));
}

TEST_CASE("up command strategy: a layout in HOIST_OUTPUT is the image", "[up]") {
  CommandFixture f;
  // The smallest valid layout: an empty-config, no-layer image.
  std::string script = R"(cd "$HOIST_OUTPUT" && mkdir -p blobs/sha256 &&
printf '{}' > c && C=$(sha256sum c | cut -d' ' -f1) && mv c blobs/sha256/$C &&
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":2},"layers":[]}' $C > m &&
M=$(sha256sum m | cut -d' ' -f1) && S=$(wc -c < m) && mv m blobs/sha256/$M &&
printf '{"imageLayoutVersion":"1.0.0"}' > oci-layout &&
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s}]}' $M $S > index.json)";
  Result<ProducedImage> r = f.Run(script);
  REQUIRE(r.ok());
  REQUIRE(r->source != nullptr);
  Result<transfer::Manifest> top = r->source->TopManifest();
  REQUIRE(top.ok());
  CHECK(top->media_type == "application/vnd.oci.image.manifest.v1+json");
  CHECK_THAT(r->detail, Catch::Matchers::StartsWith("layout sha256:"));
}

}  // namespace
}  // namespace hoist::up
