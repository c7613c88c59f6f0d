// Streaming compression for layer blobs: parallel gzip (pigz-style, one
// standard gzip member), multi-threaded zstd, and auto-detecting
// decompression. Output bytes depend only on the input and the options'
// algorithm, level and block size, never on thread count or timing, so
// layers stay reproducible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/io.h"
#include "common/status.h"

namespace hoist::layer {

// Where a stream of bytes goes (a blob writer, a file, a hasher).
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Consumes all n bytes or fails.
  virtual Status Write(const char* data, size_t n) = 0;
};

enum class Compression { kNone, kGzip, kZstd };

// "none" | "gzip" | "zstd".
std::string_view CompressionName(Compression c);
// Accepts the names above ("uncompressed" for kNone); kInvalidArgument else.
Result<Compression> ParseCompression(std::string_view name);
// The OCI layer media type for a tar compressed with `c`.
std::string_view LayerMediaType(Compression c);

struct CompressOptions {
  Compression compression = Compression::kGzip;
  // -1 = the tool's default (gzip 6, zstd 3). gzip: 0 (stored) .. 9;
  // zstd: 1 .. 19 (ZSTD_maxCLevel() accepted too).
  int level = -1;
  // Compression threads; 0 = one per CPU. Does not change the output.
  int threads = 0;
  // gzip: bytes of input per independently compressed block. Part of the
  // output format: the same input with another block size gives other bytes.
  size_t gzip_block_size = size_t{1} << 20;
};

// A streaming compressor: Write uncompressed bytes, then Finish once; the
// compressed stream goes to the sink given at creation, in order.
// Not thread-safe (one producer); it may run worker threads of its own, and
// memory stays bounded (a few blocks per thread) whatever the stream length.
class Compressor : public ByteSink {
 public:
  // Flushes everything and writes the trailer. REQUIRES: called once, last.
  virtual Status Finish() = 0;
  // Uncompressed bytes written so far.
  virtual uint64_t bytes_in() const = 0;
};

// REQUIRES: `out` outlives the compressor. kInvalidArgument for a bad level.
Result<std::unique_ptr<Compressor>> NewCompressor(const CompressOptions& options, ByteSink* out);

// What a stream's first bytes say it is. kUnknown covers plain tar and any
// format this module does not decode (bzip2, xz: libarchive handles those).
enum class Detected { kUnknown, kGzip, kZstd };
Detected DetectCompression(const char* head, size_t n);

// A ByteSource yielding the decompressed bytes of `in`: gzip (every member
// of a multi-member file), zstd (every frame), or `in` unchanged when the
// first bytes are neither. Corrupt input fails with kInvalidArgument.
// REQUIRES: `in` outlives the result. Not thread-safe.
Result<std::unique_ptr<ByteSource>> NewDecompressor(ByteSource* in, Detected* detected = nullptr);

}  // namespace hoist::layer
