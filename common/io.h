// Minimal streaming interfaces shared by the HTTP layer and the stores.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hoist {

// A source of bytes read front to back (a request body, a file).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into buf. Returns the count read; 0 means the end.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// The bytes of a string, read front to back (small in-memory blobs), at
// most `piece` bytes per Read (tests use small pieces).
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data, size_t piece = SIZE_MAX)
      : data_(std::move(data)), piece_(piece) {}
  Result<size_t> Read(char* buf, size_t n) override {
    const size_t k = std::min({n, piece_, data_.size() - pos_});
    std::memcpy(buf, data_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string data_;
  size_t piece_;
  size_t pos_ = 0;
};

}  // namespace hoist
