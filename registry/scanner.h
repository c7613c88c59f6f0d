// Scans of what the registry stores (`serve --scan-db DIR --scan-interval
// D`): every tagged image's packages (common/packages: the layers' dpkg
// and apk databases) matched against an OSV feed. Each pass loads the feed
// again (so an updated feed rescores everything) and reads only image
// manifests it has not inventoried before (a digest's contents never
// change). Results are kept in memory: the metrics show the counts per
// repository, tag and severity, and GET /v2/<name>/_hoist/scan/<digest>
// (a distribution-spec extension path, pull access) the findings, which
// the web UI shows.
//
// Thread-safety: Run from one thread at a time; the readers from any.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/packages/osv.h"
#include "registry/blob_store.h"
#include "registry/manifest_store.h"

namespace hoist::registry {

class Scanner {
 public:
  Scanner(ManifestStore& manifests, BlobStore& blobs, std::string feed_dir)
      : manifests_(manifests), blobs_(blobs), feed_dir_(std::move(feed_dir)) {}
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // One pass over every repository and tag. Errors: the feed's (the pass
  // keeps the previous results); an image that cannot be read is reported
  // with its error, not fatal.
  Status Run();

  // What one image (an index: its images together) holds.
  struct Report {
    std::string os;  // "debian 12"
    int packages = 0;
    std::vector<packages::Finding> findings;
    std::string error;  // why it could not be read
  };
  // The report of a manifest digest scanned in `repo`; nullopt when none.
  std::optional<Report> Find(const std::string& repo, const Digest& digest) const;

  struct TagCounts {
    std::string repository, tag;
    std::array<int, 5> by_severity{};  // indexed by packages::Severity
  };
  struct Summary {
    int64_t runs = 0, failures = 0;
    double last_success_unix = 0;
    int images = 0;
    std::vector<TagCounts> tags;
  };
  Summary Snapshot() const;

 private:
  struct Inventory {
    packages::OsRelease os;
    std::vector<packages::Package> packages;
    std::string error;
  };
  // The inventory of an image manifest (cached by digest).
  const Inventory& InventoryOf(const std::string& repo, const StoredManifest& m);
  Report Merge(const std::vector<const Inventory*>& parts, const packages::OsvFeed& feed) const;

  ManifestStore& manifests_;
  BlobStore& blobs_;
  const std::string feed_dir_;
  std::map<std::string, Inventory> inventories_;  // by digest; Run's thread only

  mutable std::mutex mu_;                  // guards what follows
  std::map<std::string, Report> reports_;  // by "repo@digest"
  Summary summary_;
};

}  // namespace hoist::registry
