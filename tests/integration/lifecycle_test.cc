// The registry process's life: clean stop on SIGTERM, and state that
// outlives the process (uploads in progress, blobs, manifests, tags), after
// a clean stop and after kill -9 (DESIGN.md: upload state lives in the
// backend, never only in process memory).
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <functional>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

TEST_CASE("SIGTERM stops the registry with exit status 0", "[integration][lifecycle]") {
  RegistryProcess reg;
  httplib::Client cli = StartedClient(reg);
  REQUIRE(Reply(cli.Get("/v2/")).status == 200);
  auto start = Clock::now();
  ExitStatus s = reg.Stop(5000);
  CHECK(MillisSince(start) < 5000);
  CHECK(s.reaped);
  CHECK(s.exited);
  CHECK(s.code == 0);
  CHECK_FALSE(reg.running());
}

TEST_CASE("SIGTERM does not wait for idle keep-alive connections", "[integration][lifecycle]") {
  RegistryProcess reg;
  httplib::Client cli = StartedClient(reg);
  cli.set_keep_alive(true);
  REQUIRE(Reply(cli.Get("/v2/")).status == 200);
  REQUIRE(cli.is_socket_open());
  auto start = Clock::now();
  ExitStatus s = reg.Stop(5000);
  CHECK(MillisSince(start) < 3000);
  CHECK(s.exited);
  CHECK(s.code == 0);
}

TEST_CASE("kill -9 is reported as death by SIGKILL", "[integration][lifecycle]") {
  RegistryProcess reg;
  httplib::Client cli = StartedClient(reg);
  ExitStatus s = reg.Kill();
  CHECK(s.reaped);
  CHECK_FALSE(s.exited);
  CHECK(s.signal == SIGKILL);
  CHECK(reg.last_exit().signal == SIGKILL);
}

TEST_CASE("a second registry on the same root serves what the first stored",
          "[integration][lifecycle]") {
  RegistryProcess reg;
  PushedImage img;
  {
    httplib::Client cli = StartedClient(reg);
    img = PushImage(cli, "lib/app", "v1", 71);
  }
  SECTION("after SIGTERM") {
    REQUIRE(reg.Stop().code == 0);
  }
  SECTION("after kill -9") {
    REQUIRE(reg.Kill().signal == SIGKILL);
  }
  httplib::Client cli = StartedClient(reg);
  httplib::Response m = Reply(cli.Get("/v2/lib/app/manifests/v1"));
  CHECK(m.status == 200);
  CHECK(m.body == img.manifest);
  CHECK(m.get_header_value("Docker-Content-Digest") == img.digest);
  CHECK(Reply(cli.Head("/v2/lib/app/blobs/" + img.layer.digest)).status == 200);
  httplib::Response tags = Reply(cli.Get("/v2/lib/app/tags/list"));
  CHECK(tags.status == 200);
  CHECK(nlohmann::json::parse(tags.body)["tags"] == nlohmann::json::array({"v1"}));
}

// Starts `reg`, opens an upload session in "app" (with `query`), PATCHes
// `first` into it and returns the session's Location.
std::string BeginUpload(RegistryProcess& reg, const std::string& query, const std::string& first) {
  httplib::Client cli = StartedClient(reg);
  std::string loc = StartUpload(cli, "app", query);
  httplib::Response r = Reply(PatchAt(cli, loc, first, 0));
  REQUIRE(r.status == 202);
  return LocationPath(r.get_header_value("Location"));
}

TEST_CASE("an upload in progress survives a restart of the registry",
          "[integration][lifecycle][upload]") {
  RegistryProcess reg;
  std::string data = TestBytes(300000, 72);
  std::string digest = Sha256(data);
  std::string loc = BeginUpload(reg, "", data.substr(0, 100000));
  SECTION("stopped with SIGTERM") {
    ExitStatus s = reg.Stop();
    REQUIRE(s.exited);
    REQUIRE(s.code == 0);
  }
  SECTION("killed with SIGKILL") {
    REQUIRE(reg.Kill().signal == SIGKILL);
  }

  httplib::Client cli = StartedClient(reg);
  httplib::Response status = Reply(cli.Get(loc));
  CHECK(status.status == 204);
  CHECK(status.get_header_value("Range") == "0-99999");
  CHECK(LocationPath(status.get_header_value("Location")) == loc);
  // Nothing of the unfinished upload is visible as a blob.
  CHECK(Reply(cli.Head("/v2/app/blobs/" + digest)).status == 404);

  httplib::Response patch = Reply(PatchAt(cli, loc, data.substr(100000), 100000));
  REQUIRE(patch.status == 202);
  CHECK(patch.get_header_value("Range") == "0-299999");
  loc = LocationPath(patch.get_header_value("Location"));
  httplib::Response put = Reply(CloseUpload(cli, loc, digest));
  CHECK(put.status == 201);
  CHECK(put.get_header_value("Docker-Content-Digest") == digest);
  httplib::Response get = Reply(cli.Get("/v2/app/blobs/" + digest));
  CHECK(get.status == 200);
  CHECK(get.body == data);
}

TEST_CASE("a sha512 upload in progress survives a restart", "[integration][lifecycle][upload]") {
  RegistryProcess reg;
  std::string data = TestBytes(50000, 73);
  std::string digest = Sha512(data);
  std::string loc = BeginUpload(reg, "digest-algorithm=sha512", data.substr(0, 25000));
  REQUIRE(reg.Restart());
  httplib::Client cli = reg.Client();
  httplib::Response put = Reply(CloseUpload(cli, loc, digest, data.substr(25000), 25000));
  CHECK(put.status == 201);
  CHECK(put.get_header_value("Docker-Content-Digest") == digest);
  CHECK(Reply(cli.Get("/v2/app/blobs/" + digest)).body == data);
}

// PATCHes `data` to `loc` as a chunked stream of 256 KiB pieces and calls
// `midway` once, on the test's thread, when `at` bytes have been sent.
httplib::Result StreamPatch(httplib::Client& cli, const std::string& loc, const std::string& data,
                            size_t at, const std::function<void()>& midway) {
  bool fired = false;
  return cli.Patch(
      loc, httplib::Headers{},
      [&](size_t offset, httplib::DataSink& sink) {
        if (!fired && offset >= at) {
          fired = true;
          midway();
        }
        if (offset >= data.size()) {
          sink.done();
          return true;
        }
        return sink.write(data.data() + offset, std::min<size_t>(256 << 10, data.size() - offset));
      },
      "application/octet-stream");
}

// The number of bytes an upload session holds, from its status Range.
// "0-0" is what distribution and hoist say for an empty session as well as
// for one of a single byte; the sessions here hold none or megabytes (the S3
// driver keeps nothing of a PATCH that was never answered).
size_t UploadOffset(httplib::Client& cli, const std::string& loc) {
  std::string range = UploadRange(cli, loc);
  REQUIRE(range.rfind("0-", 0) == 0);
  size_t last = std::stoull(range.substr(2));
  return last == 0 ? 0 : last + 1;
}

TEST_CASE("an upload killed mid-PATCH resumes from the offset the registry reports",
          "[integration][lifecycle][upload]") {
  RegistryProcess reg;
  std::string data = TestBytes(32 << 20, 74);
  std::string digest = Sha256(data);
  constexpr size_t kKillAt = 16 << 20;
  std::string loc;
  {
    httplib::Client cli = StartedClient(reg);
    loc = StartUpload(cli, "app");
    httplib::Result r = StreamPatch(cli, loc, data, kKillAt, [&reg] { reg.Kill(); });
    CHECK_FALSE(r);  // the server died before it could answer
  }
  REQUIRE(reg.last_exit().signal == SIGKILL);

  httplib::Client cli = StartedClient(reg);
  size_t offset = UploadOffset(cli, loc);
  CHECK(offset <= kKillAt);
  CHECK(Reply(cli.Head("/v2/app/blobs/" + digest)).status == 404);
  httplib::Response patch = Reply(PatchAt(cli, loc, data.substr(offset), offset));
  REQUIRE(patch.status == 202);
  httplib::Response put =
      Reply(CloseUpload(cli, LocationPath(patch.get_header_value("Location")), digest));
  CHECK(put.status == 201);
  httplib::Response get = Reply(cli.Get("/v2/app/blobs/" + digest));
  CHECK(get.status == 200);
  CHECK(get.body == data);
}

TEST_CASE("SIGTERM lets a request in flight finish before the registry exits",
          "[integration][lifecycle][upload]") {
  RegistryProcess reg;
  std::string data = TestBytes(16 << 20, 75);
  std::string loc;
  {
    httplib::Client cli = StartedClient(reg);
    loc = StartUpload(cli, "app");
    bool signalled = false;
    httplib::Response r =
        Reply(StreamPatch(cli, loc, data, 4 << 20, [&] { signalled = reg.Signal(SIGTERM); }));
    REQUIRE(signalled);
    CHECK(r.status == 202);
    CHECK(r.get_header_value("Range") == "0-" + std::to_string(data.size() - 1));
  }
  ExitStatus s = reg.Stop(12000);
  CHECK(s.exited);
  CHECK(s.code == 0);

  httplib::Client cli = StartedClient(reg);
  CHECK(UploadOffset(cli, loc) == data.size());
  CHECK(Reply(CloseUpload(cli, loc, Sha256(data))).status == 201);
}

TEST_CASE("two registries on one root share uploads and content",
          "[integration][lifecycle][shared]") {
  RegistryProcess first;
  httplib::Client a = StartedClient(first);
  RegistryOptions shared;
  shared.root = first.root();
  RegistryProcess second(shared);
  httplib::Client b = StartedClient(second);

  std::string data = TestBytes(300000, 76);
  std::string digest = Sha256(data);
  std::string loc = StartUpload(a, "app");
  REQUIRE(Reply(PatchAt(a, loc, data.substr(0, 100000), 0)).status == 202);
  REQUIRE(Reply(PatchAt(b, loc, data.substr(100000, 100000), 100000)).status == 202);
  REQUIRE(Reply(PatchAt(a, loc, data.substr(200000), 200000)).status == 202);
  httplib::Response put = Reply(CloseUpload(b, loc, digest));
  CHECK(put.status == 201);
  CHECK(Reply(a.Get("/v2/app/blobs/" + digest)).body == data);

  PushedImage img = PushImage(b, "app", "v1", 77);
  httplib::Response m = Reply(a.Get("/v2/app/manifests/v1"));
  CHECK(m.status == 200);
  CHECK(m.body == img.manifest);
}

}  // namespace
}  // namespace hoist::itest
