// ContentStore: the local, content-addressed blob store that builds share
// (base-image layers, built layers, configs, manifests).
//
// Layout under the root (one place for every on-disk path, see Paths in
// content_store.cc):
//   blobs/<algorithm>/<hex>        blob bytes, immutable once named
//   index/<algorithm>/<hex>.json   LayerInfo for layer blobs (diff ID, ...)
//   tmp/                           in-progress writes, renamed into blobs/
//
// A blob appears under its digest whole or not at all: writers stream into a
// uniquely named file in tmp/ (same filesystem) and rename(2) it into place
// after the digest and size were verified. Several processes may therefore
// use one root at once without locks: two writers of the same blob race to
// an identical result, and readers never see partial content.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "builder/store/file_io.h"
#include "common/digest.h"
#include "common/io.h"
#include "common/status.h"

namespace hoist::store {

struct StoreOptions {
  // fsync blobs before publishing them. Off by default, as in the registry's
  // filesystem driver: rename keeps a crash from exposing a torn write to a
  // running system, and the store is a cache whose blobs are re-verified by
  // any registry they are pushed to.
  bool fsync = false;
};

// What the store remembers about a layer blob beside its bytes.
struct LayerInfo {
  Digest digest;           // of the blob as stored (compressed)
  Digest diff_id;          // of the uncompressed tar (image-spec "DiffID")
  std::string media_type;  // e.g. media::kOciLayerGzip
  uint64_t size = 0;       // blob size in bytes
  uint64_t tar_size = 0;   // uncompressed size, 0 when unknown
};

// Streams one new blob into the store. Obtained from ContentStore::NewWriter.
// Not thread-safe. Destruction without Commit discards the partial file.
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status Write(const char* data, size_t n);
  // Bytes written so far.
  uint64_t size() const { return digester_.bytes(); }
  // Digest of the bytes written so far.
  Digest Current() const { return digester_.Current(); }

  // Publishes the blob under its digest. When `expected` is given the content
  // must hash to it (else kDigestInvalid); when expected_size >= 0 the size
  // must match (else kSizeInvalid). On any error the partial file is removed.
  // If the blob already exists the new copy is dropped (deduplication).
  // REQUIRES: called at most once; no Write after it.
  Result<Digest> Commit(const std::optional<Digest>& expected = std::nullopt,
                        int64_t expected_size = -1);
  // Discards the partial blob. Safe to call more than once.
  void Abort();

 private:
  friend class ContentStore;
  BlobWriter(class ContentStore* store, UniqueFd fd, std::string tmp_path, DigestAlgorithm a);

  ContentStore* store_;
  UniqueFd fd_;
  std::string tmp_path_;
  Digester digester_;
  bool done_ = false;
};

// Safe for concurrent use by several threads and several processes.
class ContentStore {
 public:
  // The default root: $HOIST_HOME/store, else $XDG_DATA_HOME/hoist/store,
  // else $HOME/.local/share/hoist/store.
  static std::string DefaultRoot();

  // Opens (creating when missing) a store rooted at `root`.
  static Result<std::unique_ptr<ContentStore>> OpenRoot(const std::string& root,
                                                        StoreOptions options = {});

  ContentStore(const ContentStore&) = delete;
  ContentStore& operator=(const ContentStore&) = delete;

  const std::string& root() const { return root_; }
  // Where the blob `d` lives (whether or not it exists yet).
  std::string Path(const Digest& d) const;
  bool Has(const Digest& d) const;
  // Size of a stored blob; kBlobUnknown when absent.
  Result<uint64_t> Size(const Digest& d) const;
  // Opens a stored blob for reading; kBlobUnknown when absent.
  Result<std::unique_ptr<FileSource>> Open(const Digest& d) const;

  // Starts a new blob hashed with `a`.
  Result<std::unique_ptr<BlobWriter>> NewWriter(DigestAlgorithm a = DigestAlgorithm::kSha256);
  // Copies `src` to its end into the store as blob `expected`, verifying
  // digest and (when expected_size >= 0) size. Returns at once, without
  // reading src, when the blob is already present.
  Status Ingest(ByteSource& src, const Digest& expected, int64_t expected_size = -1);
  // Like Ingest for content whose digest is not known beforehand.
  Result<Digest> Put(ByteSource& src);

  // Records layer metadata for info.digest (replacing any earlier record).
  Status PutLayerInfo(const LayerInfo& info);
  // kNotFound when no record exists.
  Result<LayerInfo> GetLayerInfo(const Digest& d) const;

  // Removes a blob and its index record; absent ones are not an error.
  Status Delete(const Digest& d);
  // Re-hashes a stored blob; kDigestInvalid if its content no longer matches.
  Status Verify(const Digest& d) const;
  // Removes files in tmp/ not modified for `min_age` (writers that died).
  Status RemoveStaleTemp(std::chrono::seconds min_age);

 private:
  friend class BlobWriter;
  ContentStore(std::string root, StoreOptions options)
      : root_(std::move(root)), options_(options) {}
  std::string IndexPath(const Digest& d) const;
  std::string NewTempPath() const;
  // Renames a verified temp file to the blob path of `d`.
  Status Publish(const std::string& tmp_path, const Digest& d, int fd);

  std::string root_;
  StoreOptions options_;
};

}  // namespace hoist::store
