// UploadStore: blob upload sessions (distribution-spec v1.1, "Pushing
// blobs"). Session state lives in the storage backend (the data file and
// its start time), so a session survives a restart and can be shared by
// several registry processes; the running hash is an in-process cache that
// is rebuilt from the data file whenever it does not match it.
// Safe for concurrent use; requests on one session are serialised.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/digest.h"
#include "common/io.h"
#include "registry/blob_store.h"
#include "registry/storage/driver.h"

namespace hoist::registry {

// A byte range "start-end" (inclusive) sent in Content-Range.
struct ChunkRange {
  int64_t start = 0;
  int64_t end = 0;
};
// Parses "a-b", also "bytes a-b/total"; nullopt when malformed.
std::optional<ChunkRange> ParseContentRange(std::string_view s);

class UploadStore {
 public:
  UploadStore(storage::StorageDriver& driver, BlobStore& blobs) : d_(driver), blobs_(blobs) {}

  // Starts a session hashing with `algorithm`; returns its id. A non-empty
  // `owner` (the signed-in user) is kept with the session's state.
  Result<std::string> Start(std::string_view repo, DigestAlgorithm algorithm,
                            const std::string& owner = "");
  // A session for bytes that come from elsewhere (a mirror's upstream,
  // proxy.h): the caller writes paths::UploadData(repo, id) itself, then
  // adopts it into the blob tree (BlobStore::Adopt) and Unstages the
  // session to remove what is left. Not counted against the open-session
  // limit; ExpireIdle removes one a crash left behind.
  Result<std::string> Stage(std::string_view repo);
  void Unstage(std::string_view repo, const std::string& id);
  // The user who opened the session ("" when anonymous or unknown).
  std::string Owner(std::string_view repo, const std::string& id);
  // Bytes received so far; kBlobUploadUnknown for an unknown session.
  Result<int64_t> Offset(std::string_view repo, const std::string& id);
  // Appends `body` to the session. With `range`, its start must equal the
  // current offset (else kRangeInvalid) and, with `length` >= 0, its size
  // must match. Returns the new offset.
  // `save_state`: also keep the hash state after it (paths::UploadHashState),
  // for a next request that another process or a restart may serve; not
  // worth it for the last one.
  Result<int64_t> Append(std::string_view repo, const std::string& id, ByteSource& body,
                         std::optional<ChunkRange> range, int64_t length, bool save_state = true);
  // Verifies the whole content against `digest`, then makes the blob visible
  // in `repo` by one atomic rename. On a digest mismatch the session is
  // deleted and nothing is stored (kDigestInvalid).
  Status Finish(std::string_view repo, const std::string& id, const Digest& digest);
  // Deletes the session; kBlobUploadUnknown when unknown.
  Status Cancel(std::string_view repo, const std::string& id);

  // At most `n` sessions open at once (0: no limit); Start beyond it is
  // kTooManyRequests (429). The count comes from ExpireIdle's walk, then
  // follows starts and ends.
  void SetMaxOpen(int64_t n) { max_open_ = n; }
  // Sessions open now (as counted: see SetMaxOpen).
  int64_t open() const { return open_.load(); }
  struct Sweep {
    int64_t open = 0;     // sessions left
    int64_t expired = 0;  // sessions deleted (or that would be, on a dry run)
  };
  // Deletes every session of every repository that has seen no request
  // for `idle_sec` (its data file and directory both older), except one a
  // request is using right now. `on_delete` (may be empty) is told each
  // session directory. Recounts the open sessions.
  Result<Sweep> ExpireIdle(int64_t idle_sec, int64_t now, bool dry_run = false,
                           const std::function<void(const std::string&)>& on_delete = {});

  // True for ids this store could have issued (guards storage paths).
  static bool IsValidId(std::string_view id);

 private:
  struct Session {
    std::mutex mu;
    std::unique_ptr<Digester> hash;  // covers [0, hashed)
    int64_t hashed = -1;
  };
  std::shared_ptr<Session> SessionFor(const std::string& id);
  // Start without the limit's bookkeeping.
  Result<std::string> Open(std::string_view repo, DigestAlgorithm algorithm,
                           const std::string& owner);
  void Forget(const std::string& id);
  // Brings s.hash up to date with the data file of `size` bytes: from a
  // saved state where there is one, reading only the bytes after it.
  Status Rehash(std::string_view repo, const std::string& id, Session& s, int64_t size,
                DigestAlgorithm a);

  storage::StorageDriver& d_;
  BlobStore& blobs_;
  void Ended() {
    if (open_.fetch_sub(1) <= 0) open_.fetch_add(1);  // never below zero
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // guarded by mu_
  std::atomic<int64_t> open_{0};
  std::atomic<int64_t> starts_{0};  // ever, to tell a walk raced a Start
  int64_t max_open_ = 0;
};

}  // namespace hoist::registry
