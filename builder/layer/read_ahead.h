// Reading ahead on a thread of its own: a ByteSource whose producer work
// (decompressing, hashing a layer) runs while its consumer works (writing
// the layer's files), so an extraction costs the larger of the two rather
// than their sum.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/io.h"

namespace hoist::layer {

// Reads `in` on a worker thread, at most `chunks` chunks of up to
// `chunk_size` bytes ahead of Read (memory stays at that bound, whatever the
// stream's length). An error of `in` is returned by the Read that reaches
// it. The worker ends at the end of `in`, at its error, or when this is
// destroyed (which waits for it).
// REQUIRES: `in` outlives this and nobody else reads it meanwhile. Once
// Read has returned 0 or an error, `in` is no longer in use (its state,
// e.g. a digest, may be read). One consumer thread.
class ReadAheadSource : public ByteSource {
 public:
  explicit ReadAheadSource(ByteSource* in, size_t chunk_size = size_t{1} << 20, size_t chunks = 4);
  ~ReadAheadSource() override;
  ReadAheadSource(const ReadAheadSource&) = delete;
  ReadAheadSource& operator=(const ReadAheadSource&) = delete;

  Result<size_t> Read(char* buf, size_t n) override;

 private:
  void Work();

  ByteSource* in_;
  const size_t chunk_size_, chunks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> ready_;  // filled chunks, oldest first
  size_t offset_ = 0;                    // consumed bytes of ready_.front()
  bool done_ = false;                    // the worker reached the end or an error
  bool stop_ = false;                    // the destructor asks the worker to end
  Status error_ = Status::Ok();
  std::thread worker_;
};

}  // namespace hoist::layer
