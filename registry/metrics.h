// The registry's metrics, served at /metrics in the Prometheus text
// exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
// Names follow Prometheus' conventions: a `hoist_registry_` prefix, base
// units in the name (`_seconds`, `_bytes`), `_total` on counters, and the
// label `code` for HTTP statuses as Prometheus' own HTTP metrics use it.
//
// Requests are counted on the hot path with atomics in fixed tables (no
// lock, no allocation); the storage counts (blobs, manifests, repositories,
// bytes) come from a walk of the storage that is redone at most every
// `storage_refresh` and after each garbage collection.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "registry/gc.h"
#include "registry/scanner.h"
#include "registry/storage/driver.h"

namespace hoist::registry {

class Metrics {
 public:
  // The label values of the request counters: the route's name, as
  // RouteName gives it for the routes of api.h, and the method.
  static constexpr std::array<std::string_view, 14> kRoutes = {
      "base",      "catalog", "tags",    "manifest", "blob", "upload_start", "upload",
      "referrers", "token",   "metrics", "health",   "ui",   "scan",         "other"};
  static constexpr std::array<std::string_view, 8> kMethods = {
      "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "other"};
  // Upper bounds of the latency histogram's buckets, in seconds.
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};

  Metrics(storage::StorageDriver& driver, std::string version);

  // One request answered: its method, route label (one of kRoutes), HTTP
  // status, time from its first byte to its last, and body bytes.
  void ObserveRequest(std::string_view method, std::string_view route, int status, double seconds,
                      int64_t bytes_in, int64_t bytes_out);
  void ObserveGc(const GcReport& report);
  // The exposition text. `uploads_open`: sessions open right now;
  // `scanner` (may be null): the scans' counts.
  std::string Render(int64_t uploads_open, const Scanner* scanner = nullptr);

 private:
  static constexpr int kStatusSlots = 24;  // distinct statuses kept; later ones go to "other"
  struct StorageCounts {
    int64_t blobs = 0, blob_bytes = 0, manifests = 0, repositories = 0;
  };
  int StatusSlot(int status);
  StorageCounts Storage();

  storage::StorageDriver& driver_;
  std::string version_;
  double started_unix_;

  // requests[method][route][status slot]; statuses_[slot] says which.
  std::array<std::atomic<int>, kStatusSlots> statuses_{};
  std::atomic<uint64_t> requests_[kMethods.size()][kRoutes.size()][kStatusSlots + 1] = {};
  // duration buckets (cumulative at render), sum in microseconds.
  std::atomic<uint64_t> buckets_[kMethods.size()][kRoutes.size()][kBuckets.size() + 1] = {};
  std::atomic<uint64_t> duration_us_[kMethods.size()][kRoutes.size()] = {};
  std::atomic<uint64_t> bytes_in_[kRoutes.size()] = {};
  std::atomic<uint64_t> bytes_out_[kRoutes.size()] = {};

  std::mutex gc_mu_;
  int64_t gc_runs_ = 0, gc_blobs_ = 0, gc_bytes_ = 0, gc_manifests_ = 0, gc_uploads_ = 0;
  double gc_last_unix_ = 0, gc_last_seconds_ = 0;

  std::mutex storage_mu_;
  StorageCounts storage_;
  std::chrono::steady_clock::time_point storage_at_{};
  bool storage_stale_ = true;
};

}  // namespace hoist::registry
