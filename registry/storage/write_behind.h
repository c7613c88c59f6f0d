// WriteBehind: a FileWriter's writes done by a second thread, so that the
// caller can receive and hash the next buffer of an upload while the kernel
// copies the previous one into the page cache. On a virtual machine that
// copy also allocates fresh guest pages, and costs as much CPU as the
// receive and the hash together; in line, the upload runs at the speed of
// the sum, behind, at the speed of the slower half.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "common/status.h"
#include "registry/storage/driver.h"

namespace hoist::storage {

// Memory is bounded by `buffers` x `size` bytes, allocated as they are
// first needed. Not thread-safe: one caller fills and queues buffers in
// order; the writes reach `out` in the same order. No copying.
class WriteBehind {
 public:
  // REQUIRES: out outlives this object; buffers >= 2; size > 0.
  WriteBehind(FileWriter& out, size_t buffers, size_t size);
  // Waits for the queued writes (their status is lost: call Drain first).
  ~WriteBehind();
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;

  // A free buffer of `size` bytes to fill; waits while every buffer is queued.
  std::span<char> Next();
  // Queues the first n bytes of the buffer Next() returned (0 gives it back).
  // The first buffer is written in line, so a body that fits in it costs
  // neither a thread nor a second buffer. Returns the first write error so
  // far; after one, later buffers are dropped, not written.
  Status Queue(size_t n);
  // Waits until every queued buffer is written; the first write error.
  Status Drain();

 private:
  void Run();

  FileWriter& out_;
  const size_t max_buffers_;
  const size_t size_;
  std::vector<std::vector<char>> buffers_;
  size_t current_ = 0;       // the buffer Next() handed out
  bool any_queued_ = false;  // Queue has been called with data
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<size_t, size_t>> pending_;  // (buffer, length); guarded by mu_
  std::vector<size_t> free_;                       // guarded by mu_
  Status error_;                                   // guarded by mu_
  bool closing_ = false;                           // guarded by mu_
  std::thread writer_;
};

}  // namespace hoist::storage
