// BlobStore: content-addressed blobs shared by all repositories, and the
// per-repository links that make a blob visible in a repository (the
// distribution model: a blob is served from <name> only when linked there).
// Safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <string_view>

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

 private:
  storage::StorageDriver& d_;
};

}  // namespace hoist::registry
