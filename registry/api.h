// The distribution-spec v1.1 HTTP API over the stores: routing, request
// parsing and response mapping. Handlers are thin: parse, call a store, map
// the result; errors render from the one table in common/status.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "registry/access.h"
#include "registry/blob_store.h"
#include "registry/config.h"
#include "registry/gc.h"
#include "registry/http/server.h"
#include "registry/manifest_store.h"
#include "registry/metrics.h"
#include "registry/proxy.h"
#include "registry/scanner.h"
#include "registry/storage/driver.h"
#include "registry/upload_store.h"

namespace hoist::registry {

enum class Route {
  kNone,
  kBase,         // /v2/
  kCatalog,      // /v2/_catalog
  kHealth,       // /healthz
  kTags,         // /v2/<name>/tags/list
  kManifest,     // /v2/<name>/manifests/<reference>
  kBlob,         // /v2/<name>/blobs/<digest>
  kUploadStart,  // /v2/<name>/blobs/uploads/
  kUpload,       // /v2/<name>/blobs/uploads/<id>
  kReferrers,    // /v2/<name>/referrers/<digest>
  kMetrics,      // /metrics (metrics.h)
  kToken,        // /token, when this registry issues tokens (token.h)
  kUi,           // /ui/<asset> (ui/assets.h)
  kScan,         // /v2/<name>/_hoist/scan/<digest> (scanner.h)
};

// The route's label in metrics (one of Metrics::kRoutes).
std::string_view RouteName(Route route);

struct Target {
  Route route = Route::kNone;
  std::string name;  // repository (not yet validated)
  std::string ref;   // reference, digest or upload id
};

// Splits a request path into route, repository name and reference.
Target MatchRoute(std::string_view path);

class Api {
 public:
  // `driver` must outlive the Api. `gate` authenticates and authorises
  // every request before its handler runs. Safe for concurrent use.
  Api(const Config& config, storage::StorageDriver& driver, Gate gate = Gate());
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  void Handle(http::Request& req, http::Response& resp);
  // Deletes upload sessions idle for longer than the configured limit and
  // recounts the open ones (the server calls it periodically, and once
  // before it listens).
  Result<UploadStore::Sweep> ExpireUploads();
  // One garbage collection on the stores requests use (gc.h); the server
  // calls it every gc interval.
  Result<GcReport> CollectGarbage(const GcOptions& options);
  // Scans what is stored against the OSV feed in `feed_dir` from now on
  // (scanner.h); RunScan does one pass (the server calls it every scan
  // interval).
  void EnableScans(const std::string& feed_dir);
  Status RunScan();
  // Makes this registry a pull-through mirror of an upstream (proxy.h).
  // kInvalidArgument for a bad upstream URL.
  Status EnableProxy(const ProxyOptions& options);
  // Counts an answered request in the metrics (the server's observer).
  void Observe(const http::Request& req, const http::Response& resp, const http::Exchange& x);

 private:
  void Dispatch(const Target& t, http::Request& req, http::Response& resp, const Identity& who);
  // What the request needs of the gate: OK, or the refusal. May drop a
  // mount the caller may not read from (the upload then starts plainly).
  // `*scope`: on a refusal, the scope a token would need (for the challenge).
  Status Authorize(const Target& t, http::Request& req, const Identity& who, std::string* scope);
  void Token(http::Request& req, http::Response& resp);
  void Health(http::Response& resp);
  void ServeMetrics(http::Response& resp);
  void ServeUi(const Target& t, http::Request& req, http::Response& resp);
  void Catalog(http::Request& req, http::Response& resp, const Identity& who);
  void TagsList(const Target& t, http::Request& req, http::Response& resp);
  void GetManifest(const Target& t, http::Request& req, http::Response& resp);
  void PutManifest(const Target& t, http::Request& req, http::Response& resp);
  void DeleteManifest(const Target& t, http::Response& resp);
  void GetBlob(const Target& t, http::Request& req, http::Response& resp);
  void GetMirroredBlob(const Target& t, const Digest& d, http::Request& req, http::Response& resp);
  void DeleteBlob(const Target& t, http::Response& resp);
  void StartUpload(const Target& t, http::Request& req, http::Response& resp, const Identity& who);
  void UploadStatus(const Target& t, http::Response& resp);
  // `last`: the closing PUT's chunk (no hash state is kept after it).
  Result<int64_t> AppendBody(const Target& t, http::Request& req, bool last);
  void PatchUpload(const Target& t, http::Request& req, http::Response& resp);
  void PutUpload(const Target& t, http::Request& req, http::Response& resp);
  void CancelUpload(const Target& t, http::Response& resp);
  void Referrers(const Target& t, http::Request& req, http::Response& resp);
  void ScanReport(const Target& t, http::Response& resp);
  void UploadAccepted(const Target& t, const std::string& id, int64_t offset, int status,
                      http::Response& resp);

  Config config_;
  storage::StorageDriver& driver_;
  Gate gate_;
  BlobStore blobs_;
  UploadStore uploads_;
  ManifestStore manifests_;
  Metrics metrics_;
  std::unique_ptr<Proxy> proxy_;      // set when mirroring
  std::unique_ptr<Scanner> scanner_;  // set when scanning
};

// Renders `st` as the spec's error JSON with its HTTP status.
void WriteError(const Status& st, http::Response& resp);

}  // namespace hoist::registry
