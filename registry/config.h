// Registry configuration: a YAML file (--config) overlaid by flags.
//
//   http:    { addr: "127.0.0.1:5000" }
//   storage: { root: /var/lib/hoist-registry, delete: true,
//              s3: { regionendpoint, bucket, region, rootdirectory, forcepathstyle,
//                    accesskey, secretkey,      (distribution's S3 keys)
//                    cachettl: 1s,              (storage/cache.h)
//                    blobcache: DIR, blobcachesize: 10GiB } }  (storage/blob_cache.h)
//   log:     { level: info, format: text, accesslog: true }
//   limits:  { manifest_bytes: 4194304, uploads: 256, upload_idle_seconds: 3600 }
//   auth:    { htpasswd: { path, realm },
//              token: { realm, service, issuer, rootcertbundle, signingkey, expiration } }
//   access:  { policy: FILE }
//   ui:      { enabled: true }
//   proxy:   { remoteurl: https://upstream, username, password, tag_ttl: 1m, cafile }
//   gc:      { interval: 1h, delete_untagged: false, grace: 10m }
//   validation: { sparse_indexes: true, sparse_manifests: true }, or as
//     distribution 3 has the first:
//     { manifests: { indexes: { platforms: all|none|list,
//                               platformlist: [{ os: linux, architecture: amd64 }] } } }
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/status.h"
#include "registry/manifest_store.h"
#include "registry/proxy.h"
#include "registry/storage/cache.h"
#include "registry/storage/driver.h"
#include "registry/storage/s3.h"
#include "registry/token.h"

namespace hoist::registry {

struct Config {
  std::string addr = "127.0.0.1:5000";
  std::string root = ".hoist/registry";
  // Storage: "filesystem" (below `root`) or "s3" (`s3`, storage/s3.h).
  std::string storage = "filesystem";
  storage::S3Options s3;
  // How long a remote store's answers are reused (storage/cache.h): what
  // another process sharing the bucket changes shows here after at most
  // this; 0 asks the store every time.
  int64_t storage_cache_ttl_ms = 1000;
  // A local copy of the blobs pulled from a remote store (storage/blob_cache.h);
  // empty: none.
  std::string blob_cache_dir;
  int64_t blob_cache_bytes = int64_t{10} << 30;
  bool delete_enabled = true;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  bool access_log = true;
  int64_t max_manifest_bytes = 4 << 20;  // distribution-spec: at least 4 MB
  // Upload sessions open at once (beyond: 429 TOOMANYREQUESTS), and how
  // long one may sit without a request before it expires.
  int64_t max_uploads = 256;
  int64_t upload_idle_seconds = 3600;
  // Access (access.h): an htpasswd file (Basic authentication), its realm,
  // and an access policy file; empty: none.
  std::string htpasswd;
  std::string realm = "hoist";
  std::string access_policy;
  // Bearer tokens (token.h): verified when service/issuer/bundle are
  // set; issued at /token too with a signing key.
  TokenSettings token;
  // TLS (http::TlsFiles); empty: plain HTTP, which a non-loopback address
  // only gets with allow_plain_http.
  std::string tls_cert, tls_key, tls_client_ca;
  bool allow_plain_http = false;
  // Garbage collection while serving (gc.h): every interval (0: never),
  // optionally removing untagged manifests; what a request used less than
  // `gc_grace_ms` before a run began is kept.
  int64_t gc_interval_ms = 0;
  bool gc_delete_untagged = false;
  int64_t gc_grace_ms = 10 * 60 * 1000;
  // Vulnerability scans of the stored images (scanner.h): the OSV feed's
  // directory (empty: none) and how often.
  std::string scan_db;
  int64_t scan_interval_ms = 60 * 60 * 1000;
  // A pull-through mirror of this upstream, when proxy.upstream is set.
  ProxyOptions proxy;
  // The web UI at /ui/ (ui/assets.h).
  bool ui_enabled = true;
  // Which children of a pushed index must exist (manifest_store.h).
  ReferencePolicy reference_policy;
  // hoist's version, for the metrics' build info (not a file setting).
  std::string version;
};

// "500ms", "30s", "10m", "1h", "1h30m" (a bare number is seconds) in
// milliseconds; kInvalidArgument naming `what` otherwise.
Result<int64_t> ParseDuration(const std::string& text, const std::string& what);
// "1073741824", "512MiB", "10GiB" (also K, M, G, T and KB...: all powers of
// 1024, as docker's sizes) -> bytes; kInvalidArgument naming `what`.
Result<int64_t> ParseSize(const std::string& text, const std::string& what);

// Loads `path` over the defaults in `*config`. Unknown keys are errors.
Status LoadConfigFile(const std::string& path, Config* config);

// Splits "host:port" / "[v6]:port" / ":port"; kInvalidArgument when bad.
Status SplitHostPort(const std::string& addr, std::string* host, int* port);

// The storage `cfg` names: the filesystem below cfg.root (created when
// missing) or the S3 bucket (checked: a missing bucket or wrong keys are
// refused, saying which). `where` (optional) gets a description for logs.
Result<std::unique_ptr<storage::StorageDriver>> OpenStorage(const Config& cfg,
                                                            std::string* where = nullptr);

}  // namespace hoist::registry
