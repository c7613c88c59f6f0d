// StorageDriver: the one seam between the registry's logic and its bytes, in
// the spirit of distribution's registry/storage/driver. Paths are absolute,
// '/'-separated, and built only by paths.h. Everything above this interface
// (blobs, uploads, manifests, tags, catalog) speaks only to it, so another
// backend can be added without touching handlers, and several registry
// processes can share one backend.
//
// All drivers are safe for concurrent use from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/io.h"
#include "common/status.h"

namespace hoist::storage {

struct FileInfo {
  std::string path;
  int64_t size = 0;
  bool is_dir = false;
  int64_t mtime_unix = 0;  // seconds
};

// Streaming reader positioned at an offset. Not thread-safe.
class FileReader : public ByteSource {
 public:
  // A file descriptor positioned at the reader's offset, when the backend
  // has one (lets the HTTP layer use sendfile); -1 otherwise.
  virtual int fd() const { return -1; }
};

// Appending writer. Nothing it writes is promised durable or complete until
// Commit returns OK. Not thread-safe.
class FileWriter {
 public:
  virtual ~FileWriter() = default;
  virtual Status Write(const char* data, size_t n) = 0;
  // Bytes in the file, including what was there before an append.
  virtual int64_t Size() const = 0;
  // Flushes everything written; the writer is finished afterwards.
  virtual Status Commit() = 0;
  // Drops the file; the writer is finished afterwards.
  virtual void Cancel() = 0;
};

enum class WalkAction { kContinue, kSkipDir };

class StorageDriver {
 public:
  virtual ~StorageDriver() = default;
  virtual std::string Name() const = 0;

  // Whole small content (links, manifests). kNotFound when absent.
  virtual Result<std::string> GetContent(const std::string& path) = 0;
  // Replaces the content atomically: readers see the old or the new bytes,
  // never a mix or a truncated file.
  virtual Status PutContent(const std::string& path, std::string_view content) = 0;
  // Reader from `offset`. kNotFound when absent; kRangeInvalid past the end.
  virtual Result<std::unique_ptr<FileReader>> Reader(const std::string& path, int64_t offset) = 0;
  // Writer that appends to the existing file when `append`, else truncates.
  virtual Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) = 0;
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // Full paths of the direct children of a directory, unsorted.
  // kNotFound when the directory is absent.
  virtual Result<std::vector<std::string>> List(const std::string& path) = 0;
  // Moves a file or directory, replacing `to`; atomic on one backend.
  virtual Status Move(const std::string& from, const std::string& to) = 0;
  // Deletes a file or a whole directory tree. kNotFound when absent.
  virtual Status Delete(const std::string& path) = 0;
  // Depth-first, lexically ordered walk below `path` (not including it).
  virtual Status Walk(const std::string& path,
                      const std::function<WalkAction(const FileInfo&)>& fn);
};

// Visits the internal directories of every repository below
// paths::RepositoriesRoot(), depth first: a repository is a directory whose
// children include "_"-named ones ("_manifests", "_layers", "_uploads");
// other children are deeper name components. `visit(repository, path of
// the internal directory, its name)`. Unlistable directories are skipped.
void ForEachRepositoryInternal(
    StorageDriver& d, const std::function<void(const std::string& repo, const std::string& path,
                                               const std::string& name)>& visit);

// Driver on a local directory: the CNCF distribution filesystem layout when
// used through paths.h. Writes go to temporary names and rename into place.
std::unique_ptr<StorageDriver> NewFilesystemDriver(std::string root);
// In-memory driver, for tests.
std::unique_ptr<StorageDriver> NewMemoryDriver();

}  // namespace hoist::storage
