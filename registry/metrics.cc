#include "registry/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "registry/blob_store.h"
#include "registry/manifest_store.h"
#include "registry/storage/paths.h"

namespace hoist::registry {

namespace {

constexpr auto kStorageRefresh = std::chrono::seconds(15);

template <size_t N>
size_t IndexOf(const std::array<std::string_view, N>& names, std::string_view name) {
  for (size_t i = 0; i + 1 < N; ++i) {
    if (names[i] == name) return i;
  }
  return N - 1;  // "other"
}

double NowUnix() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// The shortest text that reads back as `v`.
std::string Number(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Label values escape backslash, double quote and newline (exposition
// format, "Comments, help text, and type information").
std::string Escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

struct Writer {
  std::string out;
  void Family(const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
  }
  void Sample(const std::string& name, const std::string& labels, double v) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    out += Number(v);
    out += '\n';
  }
};

// The resident set of this process, from /proc/self/statm.
int64_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

}  // namespace

Metrics::Metrics(storage::StorageDriver& driver, std::string version)
    : driver_(driver), version_(std::move(version)), started_unix_(NowUnix()) {}

int Metrics::StatusSlot(int status) {
  for (int i = 0; i < kStatusSlots; ++i) {
    int seen = statuses_[i].load(std::memory_order_relaxed);
    if (seen == status) return i;
    if (seen == 0) {
      int expected = 0;
      if (statuses_[i].compare_exchange_strong(expected, status) || expected == status) return i;
    }
  }
  return kStatusSlots;
}

void Metrics::ObserveRequest(std::string_view method, std::string_view route, int status,
                             double seconds, int64_t bytes_in, int64_t bytes_out) {
  size_t m = IndexOf(kMethods, method), r = IndexOf(kRoutes, route);
  requests_[m][r][StatusSlot(status)].fetch_add(1, std::memory_order_relaxed);
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  buckets_[m][r][b].fetch_add(1, std::memory_order_relaxed);
  duration_us_[m][r].fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  if (bytes_in > 0) bytes_in_[r].fetch_add(bytes_in, std::memory_order_relaxed);
  if (bytes_out > 0) bytes_out_[r].fetch_add(bytes_out, std::memory_order_relaxed);
}

void Metrics::ObserveGc(const GcReport& report) {
  {
    std::lock_guard<std::mutex> l(gc_mu_);
    ++gc_runs_;
    gc_blobs_ += report.blobs_deleted;
    gc_bytes_ += report.bytes_freed;
    gc_manifests_ += report.manifests_deleted;
    gc_uploads_ += report.uploads_deleted;
    gc_last_unix_ = NowUnix();
    gc_last_seconds_ = report.seconds;
  }
  std::lock_guard<std::mutex> l(storage_mu_);
  storage_stale_ = true;
}

Metrics::StorageCounts Metrics::Storage() {
  std::lock_guard<std::mutex> l(storage_mu_);
  auto now = std::chrono::steady_clock::now();
  if (!storage_stale_ && now - storage_at_ < kStorageRefresh) return storage_;
  StorageCounts c;
  (void)driver_.Walk(storage::paths::BlobsRoot(), [&](const storage::FileInfo& fi) {
    if (!fi.is_dir && fi.path.size() >= 5 && fi.path.compare(fi.path.size() - 5, 5, "/data") == 0) {
      ++c.blobs;
      c.blob_bytes += fi.size;
    }
    return storage::WalkAction::kContinue;
  });
  BlobStore blobs(driver_);
  ManifestStore manifests(driver_, blobs);
  if (Result<std::vector<std::string>> repos = manifests.Repositories(); repos.ok()) {
    c.repositories = static_cast<int64_t>(repos->size());
    for (const std::string& repo : *repos) {
      c.manifests += static_cast<int64_t>(manifests.Revisions(repo).size());
    }
  }
  storage_ = c;
  storage_at_ = now;
  storage_stale_ = false;
  return c;
}

std::string Metrics::Render(int64_t uploads_open, const Scanner* scanner) {
  Writer w;
  w.Family("hoist_registry_build_info", "gauge", "The running registry's version (value 1).");
  w.Sample("hoist_registry_build_info", "version=\"" + Escape(version_) + "\"", 1);

  w.Family("hoist_registry_http_requests_total", "counter",
           "HTTP requests answered, by method, route and status code.");
  for (size_t m = 0; m < kMethods.size(); ++m) {
    for (size_t r = 0; r < kRoutes.size(); ++r) {
      for (int s = 0; s <= kStatusSlots; ++s) {
        uint64_t n = requests_[m][r][s].load(std::memory_order_relaxed);
        if (n == 0) continue;
        std::string code = s < kStatusSlots ? std::to_string(statuses_[s].load()) : "other";
        w.Sample("hoist_registry_http_requests_total",
                 "method=\"" + std::string(kMethods[m]) + "\",route=\"" + std::string(kRoutes[r]) +
                     "\",code=\"" + code + "\"",
                 static_cast<double>(n));
      }
    }
  }
  w.Family("hoist_registry_http_request_duration_seconds", "histogram",
           "Time from a request's first byte to its answer's last, by method and route.");
  for (size_t m = 0; m < kMethods.size(); ++m) {
    for (size_t r = 0; r < kRoutes.size(); ++r) {
      uint64_t count = 0;
      for (const auto& b : buckets_[m][r]) count += b.load(std::memory_order_relaxed);
      if (count == 0) continue;
      std::string labels =
          "method=\"" + std::string(kMethods[m]) + "\",route=\"" + std::string(kRoutes[r]) + "\"";
      uint64_t cumulative = 0;
      for (size_t b = 0; b < kBuckets.size(); ++b) {
        cumulative += buckets_[m][r][b].load(std::memory_order_relaxed);
        w.Sample("hoist_registry_http_request_duration_seconds_bucket",
                 labels + ",le=\"" + Number(kBuckets[b]) + "\"", static_cast<double>(cumulative));
      }
      w.Sample("hoist_registry_http_request_duration_seconds_bucket", labels + ",le=\"+Inf\"",
               static_cast<double>(count));
      w.Sample("hoist_registry_http_request_duration_seconds_sum", labels,
               duration_us_[m][r].load(std::memory_order_relaxed) / 1e6);
      w.Sample("hoist_registry_http_request_duration_seconds_count", labels,
               static_cast<double>(count));
    }
  }
  for (auto [name, table, help] : {std::tuple{"hoist_registry_http_request_body_bytes_total",
                                              &bytes_in_, "Request body bytes received, by route."},
                                   {"hoist_registry_http_response_body_bytes_total", &bytes_out_,
                                    "Response body bytes sent, by route."}}) {
    w.Family(name, "counter", help);
    for (size_t r = 0; r < kRoutes.size(); ++r) {
      uint64_t n = (*table)[r].load(std::memory_order_relaxed);
      if (n > 0) {
        w.Sample(name, "route=\"" + std::string(kRoutes[r]) + "\"", static_cast<double>(n));
      }
    }
  }
  w.Family("hoist_registry_uploads_in_progress", "gauge", "Blob upload sessions open.");
  w.Sample("hoist_registry_uploads_in_progress", "", static_cast<double>(uploads_open));

  StorageCounts st = Storage();
  w.Family("hoist_registry_blobs", "gauge", "Blobs in storage (layers, configs, manifests).");
  w.Sample("hoist_registry_blobs", "", static_cast<double>(st.blobs));
  w.Family("hoist_registry_storage_bytes", "gauge", "Bytes of blob data in storage.");
  w.Sample("hoist_registry_storage_bytes", "", static_cast<double>(st.blob_bytes));
  w.Family("hoist_registry_manifests", "gauge", "Manifests linked into repositories.");
  w.Sample("hoist_registry_manifests", "", static_cast<double>(st.manifests));
  w.Family("hoist_registry_repositories", "gauge", "Repositories that hold manifests.");
  w.Sample("hoist_registry_repositories", "", static_cast<double>(st.repositories));

  std::lock_guard<std::mutex> l(gc_mu_);
  w.Family("hoist_registry_gc_runs_total", "counter", "Garbage collections run while serving.");
  w.Sample("hoist_registry_gc_runs_total", "", static_cast<double>(gc_runs_));
  w.Family("hoist_registry_gc_freed_bytes_total", "counter",
           "Blob bytes garbage collection freed.");
  w.Sample("hoist_registry_gc_freed_bytes_total", "", static_cast<double>(gc_bytes_));
  w.Family("hoist_registry_gc_deleted_total", "counter",
           "What garbage collection deleted, by kind (blob, manifest, upload).");
  w.Sample("hoist_registry_gc_deleted_total", "kind=\"blob\"", static_cast<double>(gc_blobs_));
  w.Sample("hoist_registry_gc_deleted_total", "kind=\"manifest\"",
           static_cast<double>(gc_manifests_));
  w.Sample("hoist_registry_gc_deleted_total", "kind=\"upload\"", static_cast<double>(gc_uploads_));
  w.Family("hoist_registry_gc_last_run_timestamp_seconds", "gauge",
           "When the last garbage collection ended (Unix time; 0: none yet).");
  w.Sample("hoist_registry_gc_last_run_timestamp_seconds", "", gc_last_unix_);
  w.Family("hoist_registry_gc_last_run_duration_seconds", "gauge",
           "How long the last garbage collection took.");
  w.Sample("hoist_registry_gc_last_run_duration_seconds", "", gc_last_seconds_);

  if (scanner != nullptr) {
    const Scanner::Summary scan = scanner->Snapshot();
    w.Family("hoist_registry_scan_runs_total", "counter",
             "Vulnerability scans of the stored images (--scan-db).");
    w.Sample("hoist_registry_scan_runs_total", "", static_cast<double>(scan.runs));
    w.Family("hoist_registry_scan_failures_total", "counter",
             "Scans that failed (the feed could not be read); the last results stay.");
    w.Sample("hoist_registry_scan_failures_total", "", static_cast<double>(scan.failures));
    w.Family("hoist_registry_scan_last_success_timestamp_seconds", "gauge",
             "When the last scan ended (Unix time; 0: none yet).");
    w.Sample("hoist_registry_scan_last_success_timestamp_seconds", "", scan.last_success_unix);
    w.Family("hoist_registry_scanned_images", "gauge", "Image manifests the last scan covered.");
    w.Sample("hoist_registry_scanned_images", "", scan.images);
    w.Family("hoist_registry_vulnerabilities", "gauge",
             "Vulnerabilities the last scan found, by repository, tag and severity.");
    for (const Scanner::TagCounts& t : scan.tags) {
      for (int s = 0; s < static_cast<int>(t.by_severity.size()); ++s) {
        w.Sample("hoist_registry_vulnerabilities",
                 "repository=\"" + Escape(t.repository) + "\",tag=\"" + Escape(t.tag) +
                     "\",severity=\"" + packages::SeverityName(static_cast<packages::Severity>(s)) +
                     "\"",
                 t.by_severity[s]);
      }
    }
  }

  w.Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.Sample("process_resident_memory_bytes", "", static_cast<double>(ResidentBytes()));
  w.Family("process_start_time_seconds", "gauge", "Start time of the process (Unix time).");
  w.Sample("process_start_time_seconds", "", started_unix_);
  return std::move(w.out);
}

}  // namespace hoist::registry
