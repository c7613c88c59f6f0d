#include "builder/transfer/verify.h"

#include <algorithm>

namespace hoist::transfer {

VerifyingReader::VerifyingReader(std::unique_ptr<ByteSource> inner, Descriptor d, std::string from,
                                 std::function<void(int64_t)> on_bytes,
                                 const std::atomic<bool>* cancel)
    : inner_(std::move(inner)),
      d_(std::move(d)),
      from_(std::move(from)),
      on_bytes_(std::move(on_bytes)),
      cancel_(cancel),
      digester_(d_.digest.algorithm()) {}

Result<size_t> VerifyingReader::Read(char* buf, size_t n) {
  if (cancel_ != nullptr && cancel_->load()) {
    return Status(Code::kInternal, "blob " + d_.digest.str() + ": cancelled");
  }
  if (verified_) return size_t{0};
  Result<size_t> got = inner_->Read(buf, n);
  if (!got.ok()) return got.status();
  if (*got > 0) {
    total_ += static_cast<int64_t>(*got);
    if (total_ > d_.size) {
      return Status(Code::kSizeInvalid, "blob " + d_.digest.str() + " from " + from_ +
                                            " is longer than its " + std::to_string(d_.size) +
                                            " bytes: rejected");
    }
    digester_.Update(buf, *got);
    if (on_bytes_) on_bytes_(static_cast<int64_t>(*got));
    // Verify as soon as the last byte is in, so the caller's final read
    // (the one that sees 0) is the only thing between here and a commit.
    if (total_ < d_.size) return got;
  }
  if (total_ != d_.size) {
    return Status(Code::kSizeInvalid, "blob " + d_.digest.str() + " from " + from_ +
                                          " ended after " + std::to_string(total_) + " of " +
                                          std::to_string(d_.size) + " bytes: rejected");
  }
  Digest actual = digester_.Current();
  if (!(actual == d_.digest)) {
    return Status(Code::kDigestInvalid, "blob " + d_.digest.str() + " from " + from_ +
                                            " has the wrong content (digest " + actual.str() +
                                            "): rejected");
  }
  if (*got == 0) verified_ = true;
  return got;
}

Result<std::string> ReadAllLimited(ByteSource& src, size_t limit) {
  std::string out;
  char chunk[65536];
  while (true) {
    Result<size_t> got = src.Read(chunk, sizeof chunk);
    if (!got.ok()) return got.status();
    if (*got == 0) return out;
    if (out.size() + *got > limit) {
      return Status(Code::kInvalidArgument,
                    "content larger than " + std::to_string(limit) + " bytes");
    }
    out.append(chunk, *got);
  }
}

}  // namespace hoist::transfer
