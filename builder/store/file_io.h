// Small POSIX file helpers shared by the content store and the layer code:
// an owning file descriptor, a ByteSource over a file, and full writes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/io.h"
#include "common/status.h"

namespace hoist::store {

// Owns one file descriptor and closes it on destruction. Move-only: a
// descriptor has one owner.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A ByteSource reading a file front to back. Not thread-safe.
class FileSource : public ByteSource {
 public:
  FileSource(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  Result<size_t> Read(char* buf, size_t n) override;
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::string name_;  // for error messages
};

// Opens `path` read-only for sequential reading. Errors: kNotFound, kIo.
Result<std::unique_ptr<FileSource>> OpenFileSource(const std::string& path);

// Writes all n bytes to fd, retrying short writes and EINTR. `what` names
// the file in errors.
Status WriteAll(int fd, const char* data, size_t n, const std::string& what);

// Creates `path` and its missing parents with mode 0755 (before umask).
Status MakeDirs(const std::string& path);

// Removes the tree at `path` (a missing one is Ok), first making its
// directories writable and searchable by their owner: extractions and RUN
// steps leave read-only directories behind. kIo names what failed.
Status RemoveTree(const std::string& path);

}  // namespace hoist::store
