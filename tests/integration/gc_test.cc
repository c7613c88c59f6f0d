// Garbage collection while serving (`serve --gc-interval`, registry/gc.h):
// pushes of manifests race sweeps of the blobs they name, and no accepted
// manifest may end up naming a missing blob. Worker threads record what
// happened; the test's thread checks it (Catch2 is not thread-safe).
#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

constexpr int kWorkers = 4;
#ifdef __SANITIZE_ADDRESS__
// The sanitizer pass checks memory on 800 pushes (a third of its CI time
// was this test at full scale); the race at scale is the normal pass's.
constexpr int kPushesPerWorker = 200;
#else
constexpr int kPushesPerWorker = 500;  // 2,000 manifests in all
#endif

struct RaceOutcome {
  std::vector<std::pair<std::string, std::string>> accepted;  // tag, layer digest
  int swept_before_head = 0;      // HEAD or mount found the blob already collected
  int swept_before_manifest = 0;  // PUT refused: MANIFEST_BLOB_UNKNOWN
  std::string error;
};

// Uploads `data` with one POST (?digest=); the status, or -1.
int Upload(httplib::Client& cli, const std::string& repo, const std::string& data,
           const std::string& digest) {
  httplib::Result r = cli.Post("/v2/" + repo + "/blobs/uploads/?digest=" + digest, data,
                               "application/octet-stream");
  return r ? r->status : -1;
}

// How many sweeps the registry has finished (its metrics), or -1.
long GcRuns(httplib::Client& cli) {
  httplib::Result r = cli.Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::string key = "\nhoist_registry_gc_runs_total ";
  size_t at = r->body.find(key);
  return at == std::string::npos ? -1 : std::stol(r->body.substr(at + key.size()));
}

// Waits (bounded) until a whole sweep has run after this call began: two
// more finished sweeps than now. False if none came in 60 s.
bool AwaitWholeSweep(httplib::Client& cli) {
  const long start = GcRuns(cli);
  if (start < 0) return false;
  for (int i = 0; i < 6000; ++i) {
    if (GcRuns(cli) >= start + 2) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// One worker: for each push, a fresh unreferenced layer blob is uploaded,
// left for a random while (sweeps run every few milliseconds), HEADed as a
// client checking what the registry has (or mounted from the repository it
// was uploaded to), and named by a manifest put under a tag. Whatever the sweep took first is
// uploaded again, as a client would. Every 100th push waits for a whole
// sweep instead, so that the race is sure to be lost some of the time
// however slow the sweeps are (a sanitizer build's are).
RaceOutcome Race(const RegistryProcess& reg, int worker, const Descriptor& config) {
  RaceOutcome out;
  httplib::Client cli = reg.Client();
  std::mt19937 rng(1000 + worker);
  const std::string repo = "race/w" + std::to_string(worker);
  const std::string source = "race/src" + std::to_string(worker);
  if (Upload(cli, repo, "{}", config.digest) != 201) {
    out.error = "config upload failed";
    return out;
  }
  for (int i = 0; i < kPushesPerWorker && out.error.empty(); ++i) {
    std::string layer = "layer " + std::to_string(worker) + "/" + std::to_string(i);
    Descriptor desc = DescriptorOf(kOciLayer, layer);
    std::string tag = "t" + std::to_string(i);
    bool done = false;
    // Odd pushes mount the layer from another repository instead of
    // HEADing it: a mount, too, must hold the blob until it is linked.
    const bool mount = i % 2 == 1;
    for (int attempt = 0; attempt < 20 && !done; ++attempt) {
      if (Upload(cli, mount ? source : repo, layer, desc.digest) != 201) {
        out.error = "upload of " + desc.digest + " failed";
        break;
      }
      if (i % 100 == 50 && attempt == 0) {
        if (!AwaitWholeSweep(cli)) {
          out.error = "no sweep ran within 60 s";
          break;
        }
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(rng() % 6000));
      }
      httplib::Result check =
          mount
              ? cli.Post("/v2/" + repo + "/blobs/uploads/?mount=" + desc.digest + "&from=" + source)
              : cli.Head("/v2/" + repo + "/blobs/" + desc.digest);
      if (!check) {
        out.error = "HEAD or mount: " + httplib::to_string(check.error());
        break;
      }
      if (check->status == 202) {  // not mountable (swept): a session opened instead
        ++out.swept_before_head;
        (void)cli.Delete(LocationPath(check->get_header_value("Location")));
        continue;
      }
      if (check->status == 404) {
        ++out.swept_before_head;
        continue;
      }
      if (check->status != 200 && check->status != 201) {
        out.error = "HEAD or mount: " + std::to_string(check->status);
        break;
      }
      // The config too: a sweep may take it while no manifest names it yet.
      if (Upload(cli, repo, "{}", config.digest) != 201) {
        out.error = "config upload failed";
        break;
      }
      httplib::Result put =
          PutManifest(cli, repo, tag, kOciManifest, ImageManifest(config, {desc}));
      if (!put) {
        out.error = "PUT manifest: " + httplib::to_string(put.error());
        break;
      }
      if (put->status == 201) {
        out.accepted.emplace_back(tag, desc.digest);
        done = true;
      } else if (put->status == 400 &&
                 ErrorCodes(put->body) == std::vector<std::string>{"MANIFEST_BLOB_UNKNOWN"}) {
        ++out.swept_before_manifest;
      } else {
        out.error = "PUT manifest: " + std::to_string(put->status) + " " + put->body;
      }
    }
    if (!done && out.error.empty()) out.error = "no push of " + tag + " in 20 attempts";
  }
  return out;
}

TEST_CASE(
    "sweeps racing 2,000 manifest pushes (800 under the sanitizers) never leave a manifest "
    "naming a missing blob",
    "[integration][gc]") {
  // No grace: a use counts only while it holds a blob or after a sweep
  // began, which is exactly the race this test is after.
  RegistryOptions options;
  options.log_level = "info";
  options.extra_args = {"--gc-interval", "5ms", "--gc-grace", "0s", "--delete-untagged"};
  RegistryProcess reg(options);
  httplib::Client cli = StartedClient(reg);
  // Old unreferenced blobs, which the sweeps must take.
  std::vector<std::string> orphans;
  for (int i = 0; i < 50; ++i) orphans.push_back(PushBlob(cli, "orphans", TestBytes(100, 500 + i)));
  Descriptor config = DescriptorOf(kOciConfig, "{}");

  std::vector<RaceOutcome> outcomes(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] { outcomes[w] = Race(reg, w, config); });
  }
  for (std::thread& t : threads) t.join();

  int accepted = 0, swept = 0;
  for (int w = 0; w < kWorkers; ++w) {
    const RaceOutcome& o = outcomes[w];
    INFO("worker " << w << ": " << o.error);
    CHECK(o.error.empty());
    accepted += static_cast<int>(o.accepted.size());
    swept += o.swept_before_head + o.swept_before_manifest;
    const std::string repo = "race/w" + std::to_string(w);
    for (const auto& [tag, layer] : o.accepted) {
      httplib::Response m = Reply(cli.Get("/v2/" + repo + "/manifests/" + tag));
      INFO(repo << ":" << tag);
      REQUIRE(m.status == 200);
      CHECK(Reply(cli.Head("/v2/" + repo + "/blobs/" + layer)).status == 200);
      CHECK(Reply(cli.Head("/v2/" + repo + "/blobs/" + config.digest)).status == 200);
    }
  }
  CHECK(accepted == kWorkers * kPushesPerWorker);
  // The sweeps did run against the pushes: they took the orphans and,
  // some of the time, a layer between its upload and its manifest.
  for (const std::string& o : orphans)
    CHECK(Reply(cli.Head("/v2/orphans/blobs/" + o)).status == 404);
  INFO("layers swept before use: " << swept);
  CHECK(swept > 0);
  CHECK(reg.Log().find("garbage collected") != std::string::npos);
}

}  // namespace
}  // namespace hoist::itest
