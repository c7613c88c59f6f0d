// BlobStore: content-addressed blobs shared by all repositories, and the
// per-repository links that make a blob visible in a repository (the
// distribution model: a blob is served from <name> only when linked there).
// Safe for concurrent use.
//
// Garbage collection while serving (gc.h) meets requests here. When uses
// are tracked, every digest a request checks, links, mounts or references
// is recorded with the time its use ended, and a digest held by a request
// in flight (a manifest PUT between checking its blobs and writing its
// link) is pinned. A sweep deletes only through RemoveIfUnused, which
// decides and deletes under the same mutex that records uses: a use
// recorded before a request's existence check either stops the delete or
// finds the blob already gone (and the request answers BLOB_UNKNOWN).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/digest.h"
#include "registry/storage/driver.h"

namespace hoist::registry {

class BlobStore {
 public:
  explicit BlobStore(storage::StorageDriver& driver) : d_(driver) {}

  // Size of a blob linked into `repo`. kBlobUnknown when not linked or when
  // its data is gone.
  Result<int64_t> Stat(std::string_view repo, const Digest& digest);
  // Size of the blob's data, whatever repositories link it; kBlobUnknown.
  Result<int64_t> StatData(const Digest& digest);
  // Reader positioned at `offset` of a blob linked into `repo`.
  Result<std::unique_ptr<storage::FileReader>> Open(std::string_view repo, const Digest& digest,
                                                    int64_t offset);
  // Links an existing blob into `repo`.
  Status Link(std::string_view repo, const Digest& digest);
  // Removes the link; kBlobUnknown when not linked. Data stays until GC.
  Status Unlink(std::string_view repo, const Digest& digest);
  // Stores small content (a manifest) under its digest if absent.
  Status PutSmall(const Digest& digest, std::string_view content);
  // Reads small content by digest; kBlobUnknown when absent.
  Result<std::string> GetSmall(const Digest& digest);
  // Moves a finished upload's data file into the blob tree (atomic rename);
  // if the blob exists already the upload's file is deleted instead.
  Status Adopt(const std::string& data_path, const Digest& digest);

  // Pins digests for a request's duration (when uses are tracked); on
  // destruction each is recorded as used now.
  class Use {
   public:
    explicit Use(BlobStore& store) : store_(store) {}
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    void Add(const Digest& digest);

   private:
    BlobStore& store_;
    std::vector<std::string> held_;
  };
  // Starts recording uses (a server that collects garbage while serving).
  void TrackUses() { tracking_ = true; }
  bool tracking_uses() const { return tracking_; }
  // Records a use of `digest` that ends now. Returns the entry's time
  // stamp when this call made the entry, else 0.
  int64_t Touch(const Digest& digest);
  // A monotonic clock (nanoseconds) for use times.
  static int64_t Now();
  // Runs `remove` under the use mutex unless `key` (a digest string) is
  // pinned or was used at or after `since`; true when it ran and succeeded.
  // Also forgets uses older than `since` that nothing pins.
  Result<bool> RemoveIfUnused(const std::string& key, int64_t since,
                              const std::function<Status()>& remove);
  // Forgets uses that ended before `since` (bounds memory between sweeps).
  void ForgetUsesBefore(int64_t since);
  // Digests with a recorded use now.
  size_t uses_recorded() {
    std::lock_guard<std::mutex> l(use_mu_);
    return uses_.size();
  }

 private:
  struct UseEntry {
    int pins = 0;
    int64_t last = 0;  // Now() when the last use ended
  };
  void Pin(const std::string& key);
  // Drops the entry Touch made (stamped `stamp`) for a digest that turned
  // out absent, unless used since.
  void Forget(const Digest& digest, int64_t stamp);
  void Unpin(const std::string& key);

  storage::StorageDriver& d_;
  std::atomic<bool> tracking_{false};
  std::mutex use_mu_;
  std::unordered_map<std::string, UseEntry> uses_;  // guarded by use_mu_
};

}  // namespace hoist::registry
