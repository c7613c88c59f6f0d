// Many clients at once, and many requests over one kept-alive connection.
// Catch2 assertions are not thread-safe: worker threads record results,
// the test's thread checks them.
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <thread>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

constexpr int kThreads = 16;

struct PushOutcome {
  std::string digest;
  int post = 0, patch = 0, put = 0, get = 0;
  bool same_bytes = false;
  std::string error;
};

// A chunked push and read-back of `data` on a client of its own; no Catch2.
PushOutcome PushAndRead(const RegistryProcess& reg, const std::string& repo,
                        const std::string& data) {
  PushOutcome out;
  out.digest = Sha256(data);
  httplib::Client cli = reg.Client();
  auto answered = [&out](const httplib::Result& r, const char* what, int* status) {
    if (!r) out.error = std::string(what) + ": " + httplib::to_string(r.error());
    if (r) *status = r->status;
    return static_cast<bool>(r);
  };
  httplib::Result post = cli.Post("/v2/" + repo + "/blobs/uploads/");
  if (!answered(post, "POST", &out.post)) return out;
  std::string loc = LocationPath(post->get_header_value("Location"));
  size_t half = data.size() / 2;
  httplib::Result patch = PatchAt(cli, loc, data.substr(0, half), 0);
  if (!answered(patch, "PATCH", &out.patch)) return out;
  loc = LocationPath(patch->get_header_value("Location"));
  httplib::Result put = CloseUpload(cli, loc, out.digest, data.substr(half), half);
  if (!answered(put, "PUT", &out.put)) return out;
  httplib::Result get = cli.Get("/v2/" + repo + "/blobs/" + out.digest);
  if (!answered(get, "GET", &out.get)) return out;
  out.same_bytes = get->body == data;
  return out;
}

void CheckOutcomes(const std::vector<PushOutcome>& outcomes) {
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const PushOutcome& o = outcomes[i];
    INFO("thread " << i << ": " << o.error);
    CHECK(o.error.empty());
    CHECK(o.post == 202);
    CHECK(o.patch == 202);
    CHECK(o.put == 201);
    CHECK(o.get == 200);
    CHECK(o.same_bytes);
  }
}

// Runs kThreads pushes at once; client i pushes blobs[i % blobs.size()],
// half of them into one shared repository, half into their own.
std::vector<PushOutcome> PushConcurrently(const RegistryProcess& reg,
                                          const std::vector<std::string>& blobs) {
  std::vector<PushOutcome> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    std::string repo = i % 2 ? "shared" : "repo" + std::to_string(i);
    const std::string& data = blobs[i % blobs.size()];
    threads.emplace_back(
        [&outcomes, &reg, &data, i, repo] { outcomes[i] = PushAndRead(reg, repo, data); });
  }
  for (std::thread& t : threads) t.join();
  return outcomes;
}

TEST_CASE_METHOD(RegistryFixture, "16 clients pushing different blobs at once all succeed",
                 "[integration][concurrency]") {
  std::vector<std::string> blobs;
  for (int i = 0; i < kThreads; ++i) blobs.push_back(TestBytes(256 * 1024 + i, 100 + i));
  CheckOutcomes(PushConcurrently(reg, blobs));
}

TEST_CASE_METHOD(RegistryFixture, "16 clients pushing the same blob at once all succeed",
                 "[integration][concurrency]") {
  CheckOutcomes(PushConcurrently(reg, {TestBytes(512 * 1024, 200)}));
}

int LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  return ntohs(a.sin_port);
}

TEST_CASE_METHOD(RegistryFixture, "one kept-alive connection serves many requests",
                 "[integration][concurrency][keepalive]") {
  cli.set_keep_alive(true);
  std::string digest = PushBlob(cli, "app", "keep-alive payload");
  REQUIRE(cli.is_socket_open());
  int port = LocalPort(static_cast<int>(cli.socket()));
  REQUIRE(port > 0);
  int ok = 0, same_connection = 0;
  constexpr int kRequests = 300;
  for (int i = 0; i < kRequests; ++i) {
    httplib::Result r = i % 3 == 0   ? cli.Get("/v2/")
                        : i % 3 == 1 ? cli.Head("/v2/app/blobs/" + digest)
                                     : cli.Get("/v2/app/blobs/" + digest);
    if (r && (r->status == 200)) ++ok;
    if (cli.is_socket_open() && LocalPort(static_cast<int>(cli.socket())) == port) {
      ++same_connection;
    }
  }
  CHECK(ok == kRequests);
  CHECK(same_connection == kRequests);
}

TEST_CASE_METHOD(RegistryFixture, "a refused PATCH body does not break the kept-alive connection",
                 "[integration][concurrency][keepalive]") {
  cli.set_keep_alive(true);
  std::string loc = StartUpload(cli, "app");
  int port = LocalPort(static_cast<int>(cli.socket()));
  std::string chunk = TestBytes(64 * 1024, 201);
  httplib::Response bad = Reply(PatchAt(cli, loc, chunk, 10));
  CHECK(bad.status == 416);
  httplib::Response next = Reply(cli.Get(loc));
  CHECK(next.status == 204);
  CHECK(next.get_header_value("Range") == "0-0");
  CHECK(LocalPort(static_cast<int>(cli.socket())) == port);
}

}  // namespace
}  // namespace hoist::itest
