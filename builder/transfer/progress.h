// What a copy reports while it runs, and the three ways to show it:
// bars redrawn on a terminal, one plain line per event when piped, and
// JSON events (one object per line) for machines. Implementations are
// safe for concurrent use: blob transfers report from worker threads.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "builder/transfer/image.h"
#include "common/status.h"

namespace hoist::transfer {

enum class BlobOutcome { kCopied, kSkipped, kMounted };

struct CopySummary {
  Manifest top;  // the manifest written at the top (an index or an image)
  int blobs_copied = 0, blobs_skipped = 0, blobs_mounted = 0;
  int64_t bytes_copied = 0;
  double seconds = 0;
};

class Progress {
 public:
  virtual ~Progress() = default;
  virtual void Started(const std::string& /*from*/, const std::string& /*to*/) {}
  virtual void BlobStarted(const Descriptor&) {}
  // `delta` more bytes of the blob went through.
  virtual void BlobBytes(const Descriptor&, int64_t /*delta*/) {}
  // A failed transfer starts again from byte 0.
  virtual void BlobRestarted(const Descriptor&) {}
  virtual void BlobFinished(const Descriptor&, BlobOutcome) {}
  virtual void ManifestWritten(const Manifest&, bool /*top*/) {}
  virtual void Retrying(const std::string& /*reason*/) {}
  virtual void Note(const std::string& /*message*/) {}
  virtual void Finished(const CopySummary&) {}
  virtual void Failed(const Status&) {}
};

enum class ProgressMode { kQuiet, kPlain, kBars, kJson };

// kBars when `out` is a terminal, else kPlain.
ProgressMode AutoMode(std::FILE* out);
// Bars and plain lines go to `text_out` (stderr); JSON events to `json_out`.
std::unique_ptr<Progress> MakeProgress(ProgressMode mode, std::FILE* text_out = stderr,
                                       std::FILE* json_out = stdout);

// "12.3 MiB".
std::string HumanBytes(int64_t n);

}  // namespace hoist::transfer
