// VerifyingReader: passes a blob's bytes through while hashing and
// counting them; the read that would end the stream fails instead when the
// digest or the size is not the descriptor's, so a sink never commits
// wrong bytes (image-spec "Descriptors": verify before trusting content).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "builder/transfer/image.h"
#include "common/digest.h"
#include "common/io.h"

namespace hoist::transfer {

class VerifyingReader : public ByteSource {
 public:
  // `from` names the source in errors. `on_bytes` (may be empty) sees each
  // chunk's size. `cancel` (may be null): when set, reads fail.
  VerifyingReader(std::unique_ptr<ByteSource> inner, Descriptor d, std::string from,
                  std::function<void(int64_t)> on_bytes = {},
                  const std::atomic<bool>* cancel = nullptr);

  // Errors: kDigestInvalid, kSizeInvalid (naming blob and source), the
  // inner stream's errors, kInternal "cancelled".
  Result<size_t> Read(char* buf, size_t n) override;

 private:
  std::unique_ptr<ByteSource> inner_;
  Descriptor d_;
  std::string from_;
  std::function<void(int64_t)> on_bytes_;
  const std::atomic<bool>* cancel_;
  Digester digester_;
  int64_t total_ = 0;
  bool verified_ = false;
};

// Reads a whole small stream (configs, manifests): kInvalidArgument past `limit`.
Result<std::string> ReadAllLimited(ByteSource& src, size_t limit);

}  // namespace hoist::transfer
