// Minimal streaming interfaces shared by the HTTP layer and the stores.
#pragma once

#include <cstddef>

#include "common/status.h"

namespace hoist {

// A source of bytes read front to back (a request body, a file).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into buf. Returns the count read; 0 means the end.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

}  // namespace hoist
