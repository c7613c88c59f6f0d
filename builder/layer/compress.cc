#include "builder/layer/compress.h"

#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace hoist::layer {

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "none";
}

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  if (name == "none" || name == "uncompressed") return Compression::kNone;
  return Status(Code::kInvalidArgument,
                "unknown compression \"" + std::string(name) + "\" (want gzip, zstd or none)");
}

std::string_view LayerMediaType(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "application/vnd.oci.image.layer.v1.tar";
    case Compression::kGzip:
      return "application/vnd.oci.image.layer.v1.tar+gzip";
    case Compression::kZstd:
      return "application/vnd.oci.image.layer.v1.tar+zstd";
  }
  return {};
}

namespace {

constexpr size_t kWindow = 32768;      // deflate's history: the dictionary we carry over
constexpr size_t kStoredMax = 65535;   // largest stored deflate block (RFC 1951 3.2.4)
constexpr size_t kProbeBytes = 65536;  // trial-compressed sample of a high-entropy block

// ---------------------------------------------------------------- gzip ----

// One block of the stream and, once a worker is done with it, its deflate
// output. Blocks are cut every gzip_block_size input bytes, so the cut points
// (and with them the output) depend on the input alone.
struct GzipJob {
  std::shared_ptr<const std::vector<char>> data;
  std::shared_ptr<const std::vector<char>> prev;  // the previous block: dictionary
  bool last = false;
  std::vector<char> out;
  uint32_t crc = 0;
  Status status;
  bool done = false;  // guarded by GzipCompressor::mu_
};

size_t StoredSize(size_t n) {
  return n + 5 * std::max<size_t>(1, (n + kStoredMax - 1) / kStoredMax);
}

// Appends n bytes as stored deflate blocks. The stream is byte-aligned at
// every block start (after the header, a sync flush or a stored block), so a
// stored block header is the single byte BFINAL|BTYPE=00.
void AppendStored(const char* p, size_t n, bool last, std::vector<char>* out) {
  size_t off = 0;
  do {
    size_t k = std::min(kStoredMax, n - off);
    bool final_chunk = off + k == n;
    out->push_back(static_cast<char>(last && final_chunk ? 1 : 0));
    out->push_back(static_cast<char>(k & 0xff));
    out->push_back(static_cast<char>(k >> 8));
    out->push_back(static_cast<char>(~k & 0xff));
    out->push_back(static_cast<char>((~k >> 8) & 0xff));
    out->insert(out->end(), p + off, p + off + k);
    off += k;
  } while (off < n);
}

// Order-0 entropy of a block in bits per byte: near 8 for random, already
// compressed or encrypted data, 4-6 for text and code.
double Entropy(const unsigned char* p, size_t n) {
  // Four tables so consecutive equal bytes do not serialise on one counter.
  std::array<std::array<uint32_t, 256>, 4> h{};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++h[0][p[i]];
    ++h[1][p[i + 1]];
    ++h[2][p[i + 2]];
    ++h[3][p[i + 3]];
  }
  for (; i < n; ++i) ++h[0][p[i]];
  double e = 0;
  for (int b = 0; b < 256; ++b) {
    uint64_t c = uint64_t{h[0][b]} + h[1][b] + h[2][b] + h[3][b];
    if (c == 0) continue;
    double q = static_cast<double>(c) / static_cast<double>(n);
    e -= q * std::log2(q);
  }
  return e;
}

// Deflates blocks for one thread; owns its zlib streams.
class BlockDeflater {
 public:
  explicit BlockDeflater(int level) : level_(level) {
    ok_ = deflateInit2(&main_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~BlockDeflater() {
    if (ok_) deflateEnd(&main_);
    if (probe_ok_) deflateEnd(&probe_);
  }
  BlockDeflater(const BlockDeflater&) = delete;
  BlockDeflater& operator=(const BlockDeflater&) = delete;

  void Run(GzipJob& job) {
    const char* p = job.data->data();
    size_t n = job.data->size();
    job.crc = static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(p), n));
    job.out.clear();
    bool store = level_ == 0 || LooksIncompressible(p, n);
    if (!store) {
      Status s = Deflate(job);
      if (!s.ok()) {
        job.status = s;
        return;
      }
      // Never worse than storing: data that did not shrink goes out as is.
      if (job.out.size() >= StoredSize(n)) store = true;
    }
    if (store) {
      job.out.clear();
      job.out.reserve(StoredSize(n));
      AppendStored(p, n, job.last, &job.out);
    }
  }

 private:
  // A block whose bytes are near-uniform and whose sample does not shrink
  // at level 1 is stored: deflating incompressible data costs ~20 ms/MiB at
  // level 6 for nothing. Both tests read only the block, so the decision is
  // as deterministic as the rest of the output.
  bool LooksIncompressible(const char* p, size_t n) {
    if (n < 2 * kProbeBytes) return false;
    if (Entropy(reinterpret_cast<const unsigned char*>(p), n) < 7.5) return false;
    if (!probe_ok_) {
      probe_ok_ = deflateInit2(&probe_, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
      if (!probe_ok_) return false;
    }
    deflateReset(&probe_);
    probe_buf_.resize(deflateBound(&probe_, kProbeBytes));
    // A sample of two windows: any repeat deflate could exploit (distance
    // <= 32 KiB) shows up inside it.
    probe_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p + n / 2 - kProbeBytes / 2));
    probe_.avail_in = kProbeBytes;
    probe_.next_out = reinterpret_cast<Bytef*>(probe_buf_.data());
    probe_.avail_out = static_cast<uInt>(probe_buf_.size());
    if (deflate(&probe_, Z_FINISH) != Z_STREAM_END) return false;
    size_t got = probe_buf_.size() - probe_.avail_out;
    return got * 100 >= kProbeBytes * 97;  // saves less than 3%
  }

  Status Deflate(GzipJob& job) {
    if (!ok_) return Status(Code::kInternal, "deflateInit failed");
    deflateReset(&main_);
    if (job.prev && !job.prev->empty()) {
      size_t k = std::min(kWindow, job.prev->size());
      deflateSetDictionary(&main_,
                           reinterpret_cast<const Bytef*>(job.prev->data() + job.prev->size() - k),
                           static_cast<uInt>(k));
    }
    size_t n = job.data->size();
    job.out.resize(deflateBound(&main_, n) + 64);
    main_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(job.data->data()));
    main_.avail_in = static_cast<uInt>(n);
    size_t used = 0;
    // Non-final blocks end with a sync flush (byte-aligned, not final), so
    // the blocks concatenate into one deflate stream; the last one finishes.
    int flush = job.last ? Z_FINISH : Z_SYNC_FLUSH;
    while (true) {
      if (used == job.out.size()) job.out.resize(job.out.size() * 2);
      main_.next_out = reinterpret_cast<Bytef*>(job.out.data() + used);
      main_.avail_out = static_cast<uInt>(job.out.size() - used);
      int r = deflate(&main_, flush);
      used = job.out.size() - main_.avail_out;
      if (r == Z_STREAM_ERROR) return Status(Code::kInternal, "deflate failed");
      if (job.last ? r == Z_STREAM_END : (main_.avail_in == 0 && main_.avail_out > 0)) break;
    }
    job.out.resize(used);
    return Status::Ok();
  }

  int level_;
  z_stream main_{};
  bool ok_ = false;
  z_stream probe_{};
  bool probe_ok_ = false;
  std::vector<char> probe_buf_;
};

// gzip (RFC 1952) as one member whose deflate stream is made of
// independently compressed blocks, pigz-style: block i is deflated with the
// last 32 KiB of block i-1 as preset dictionary, so the ratio stays within a
// fraction of a percent of single-threaded zlib, and the member's CRC-32 is
// the blocks' CRCs joined with crc32_combine.
class GzipCompressor final : public Compressor {
 public:
  GzipCompressor(int level, int threads, size_t block_size, ByteSink* out)
      : level_(level), block_size_(block_size), out_(out) {
    if (threads <= 1) {
      inline_ = std::make_unique<BlockDeflater>(level);
    } else {
      // Two jobs per worker keep every worker busy while the producer waits
      // on the oldest; memory is ~2 blocks per job.
      max_inflight_ = 2 * static_cast<size_t>(threads);
      for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    }
    NewBlock();
  }

  ~GzipCompressor() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  Status Write(const char* data, size_t n) override {
    HOIST_RETURN_IF_ERROR(error_);
    bytes_in_ += n;
    while (n > 0) {
      size_t k = std::min(n, block_size_ - cur_->size());
      cur_->insert(cur_->end(), data, data + k);
      data += k;
      n -= k;
      if (cur_->size() == block_size_) HOIST_RETURN_IF_ERROR(Submit(false));
    }
    return Status::Ok();
  }

  Status Finish() override {
    HOIST_RETURN_IF_ERROR(error_);
    // The final block may be empty (input a multiple of the block size): it
    // still carries the BFINAL bit.
    HOIST_RETURN_IF_ERROR(Submit(true));
    while (!inflight_.empty()) HOIST_RETURN_IF_ERROR(EmitFront());
    unsigned char trailer[8];
    for (int i = 0; i < 4; ++i) trailer[i] = static_cast<unsigned char>(crc_ >> (8 * i));
    for (int i = 0; i < 4; ++i) trailer[4 + i] = static_cast<unsigned char>(bytes_in_ >> (8 * i));
    return out_->Write(reinterpret_cast<const char*>(trailer), sizeof trailer);
  }

  uint64_t bytes_in() const override { return bytes_in_; }

 private:
  void NewBlock() {
    cur_ = std::make_shared<std::vector<char>>();
    cur_->reserve(block_size_);
  }

  Status Submit(bool last) {
    auto job = std::make_shared<GzipJob>();
    job->data = cur_;
    job->prev = prev_;
    job->last = last;
    prev_ = cur_;
    NewBlock();
    if (inline_) {
      inline_->Run(*job);
      job->done = true;
      inflight_.push_back(job);
      return EmitFront();
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      queue_.push_back(job);
    }
    work_cv_.notify_one();
    inflight_.push_back(std::move(job));
    while (inflight_.size() > max_inflight_) HOIST_RETURN_IF_ERROR(EmitFront());
    return Status::Ok();
  }

  // Waits for the oldest block and writes it: output order is input order.
  Status EmitFront() {
    std::shared_ptr<GzipJob> job = inflight_.front();
    inflight_.pop_front();
    if (!inline_) {
      std::unique_lock<std::mutex> l(mu_);
      done_cv_.wait(l, [&] { return job->done; });
    }
    if (!job->status.ok()) return error_ = job->status;
    if (!header_written_) {
      // RFC 1952 2.3: no name, mtime 0 (reproducible), XFL 2/4 for max/fast
      // levels, OS 255 "unknown" (host-independent, as Go's writer does).
      const char xfl = level_ == 9 ? 2 : level_ == 1 ? 4 : 0;
      const char header[10] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, xfl, '\xff'};
      if (Status s = out_->Write(header, sizeof header); !s.ok()) return error_ = s;
      header_written_ = true;
    }
    crc_ = static_cast<uint32_t>(
        crc32_combine(crc_, job->crc, static_cast<z_off_t>(job->data->size())));
    if (Status s = out_->Write(job->out.data(), job->out.size()); !s.ok()) return error_ = s;
    return Status::Ok();
  }

  void WorkerLoop() {
    BlockDeflater deflater(level_);
    while (true) {
      std::shared_ptr<GzipJob> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        work_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      deflater.Run(*job);
      job->prev.reset();  // the dictionary's block may be freed now
      {
        std::lock_guard<std::mutex> l(mu_);
        job->done = true;
      }
      done_cv_.notify_all();
    }
  }

  const int level_;
  const size_t block_size_;
  ByteSink* const out_;
  std::shared_ptr<std::vector<char>> cur_, prev_;
  std::deque<std::shared_ptr<GzipJob>> inflight_;  // submitted, not yet written
  size_t max_inflight_ = 1;
  uint32_t crc_ = 0;
  uint64_t bytes_in_ = 0;
  bool header_written_ = false;
  Status error_;
  std::unique_ptr<BlockDeflater> inline_;  // threads <= 1: compress on the caller's thread

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::shared_ptr<GzipJob>> queue_;  // guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
  std::vector<std::thread> workers_;
};

// ---------------------------------------------------------------- zstd ----

class ZstdCompressor final : public Compressor {
 public:
  explicit ZstdCompressor(ByteSink* out) : out_(out), buf_(ZSTD_CStreamOutSize()) {}
  ~ZstdCompressor() override { ZSTD_freeCCtx(cctx_); }

  Status Init(int level, int threads) {
    cctx_ = ZSTD_createCCtx();
    if (!cctx_) return Status(Code::kInternal, "ZSTD_createCCtx failed");
    size_t r = ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(r)) return Status(Code::kInvalidArgument, ZSTD_getErrorName(r));
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
    // Always at least one worker: zstd's output is the same for any
    // nbWorkers >= 1 but differs from single-threaded mode (0), and the
    // layer's digest must not depend on the thread count.
    r = ZSTD_CCtx_setParameter(cctx_, ZSTD_c_nbWorkers, std::max(1, threads));
    if (ZSTD_isError(r)) return Status(Code::kInternal, "zstd without thread support");
    // zstd's default job at level 3 is 8 MiB, and each worker holds its job's
    // input and output: ~100 MiB with 4 workers. 2 MiB jobs keep memory near
    // 25 MiB for a ratio cost well under 1%. A fixed value, so the output
    // still does not depend on the number of workers.
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_jobSize, 2 << 20);
    return Status::Ok();
  }

  Status Write(const char* data, size_t n) override {
    bytes_in_ += n;
    ZSTD_inBuffer in{data, n, 0};
    while (in.pos < in.size) HOIST_RETURN_IF_ERROR(Step(&in, ZSTD_e_continue).status());
    return Status::Ok();
  }

  Status Finish() override {
    ZSTD_inBuffer in{nullptr, 0, 0};
    while (true) {
      Result<size_t> left = Step(&in, ZSTD_e_end);
      if (!left.ok()) return left.status();
      if (*left == 0) return Status::Ok();
    }
  }

  uint64_t bytes_in() const override { return bytes_in_; }

 private:
  Result<size_t> Step(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer o{buf_.data(), buf_.size(), 0};
    size_t r = ZSTD_compressStream2(cctx_, &o, in, mode);
    if (ZSTD_isError(r))
      return Status(Code::kInternal, std::string("zstd: ") + ZSTD_getErrorName(r));
    if (o.pos > 0) HOIST_RETURN_IF_ERROR(out_->Write(buf_.data(), o.pos));
    return r;
  }

  ByteSink* out_;
  ZSTD_CCtx* cctx_ = nullptr;
  std::vector<char> buf_;
  uint64_t bytes_in_ = 0;
};

class PassThrough final : public Compressor {
 public:
  explicit PassThrough(ByteSink* out) : out_(out) {}
  Status Write(const char* data, size_t n) override {
    bytes_in_ += n;
    return out_->Write(data, n);
  }
  Status Finish() override { return Status::Ok(); }
  uint64_t bytes_in() const override { return bytes_in_; }

 private:
  ByteSink* out_;
  uint64_t bytes_in_ = 0;
};

// ------------------------------------------------------- decompression ----

// Replays bytes already read from `in` (the sniffed magic) before the rest.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, ByteSource* in) : prefix_(std::move(prefix)), in_(in) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (off_ < prefix_.size()) {
      size_t k = std::min(n, prefix_.size() - off_);
      std::memcpy(buf, prefix_.data() + off_, k);
      off_ += k;
      return k;
    }
    return in_->Read(buf, n);
  }

 private:
  std::string prefix_;
  size_t off_ = 0;
  ByteSource* in_;
};

constexpr size_t kInBuf = 256 * 1024;

Status Corrupt(std::string_view what, std::string_view detail) {
  return Status(Code::kInvalidArgument,
                "corrupt " + std::string(what) + " stream: " + std::string(detail));
}

// gzip (RFC 1952) members inflated by ISA-L's igzip, which decodes several
// symbols per table look-up and runs 3-4x faster than zlib's inflate; a
// Debian-sized base layer (300 MB of gzip) is read in 0.7 s instead of 3 s.
// Each member's header (RFC 1952 section 2.3.1) is read by
// isal_read_gzip_header into a header record kept across calls: a header split
// between reads resumes with the flags its first part set. (isal_inflate's own
// header parsing, ISAL_GZIP, starts from a fresh record on every call, whose
// flags ISA-L 2.30 leaves uninitialised, so a split FNAME could go on as an
// FCOMMENT or FHCRC and eat the deflate data.) ISAL_GZIP_NO_HDR_VER then
// inflates and checks the trailer's CRC-32 and ISIZE.
class GunzipSource : public ByteSource {
 public:
  explicit GunzipSource(std::unique_ptr<ByteSource> in)
      : in_(std::move(in)), buf_(kInBuf), st_(std::make_unique<inflate_state>()) {
    StartMember();
  }

  Result<size_t> Read(char* out, size_t n) override {
    while (true) {
      if (st_->avail_in == 0 && !eof_) HOIST_RETURN_IF_ERROR(Fill());
      if (member_done_) {
        // Between members: another member, or the end. Zero padding after
        // the last member is tolerated, as gzip(1) does.
        if (st_->avail_in == 0 && eof_) return size_t{0};
        if (st_->next_in[0] == 0) {
          while (st_->avail_in > 0 && st_->next_in[0] == 0) ++st_->next_in, --st_->avail_in;
          if (st_->avail_in > 0) return Corrupt("gzip", "garbage after the end");
          continue;
        }
        StartMember();
      }
      if (!header_done_) {
        if (st_->avail_in == 0) return Corrupt("gzip", "unexpected end of data in a header");
        int r = isal_read_gzip_header(st_.get(), &header_);
        if (r == ISAL_DECOMP_OK) {
          header_done_ = true;
        } else if (r != ISAL_END_INPUT) {  // END_INPUT: all input taken, the header goes on
          return Corrupt("gzip", std::string("header: ") + IsalError(r));
        }
        continue;
      }
      st_->next_out = reinterpret_cast<uint8_t*>(out);
      st_->avail_out = static_cast<uint32_t>(std::min<size_t>(n, 1u << 30));
      uint32_t before = st_->avail_out;
      int r = isal_inflate(st_.get());
      size_t got = before - st_->avail_out;
      if (r < 0 || r == ISAL_NEED_DICT) return Corrupt("gzip", IsalError(r));
      // At a member's end the trailer check has taken exactly its 8 bytes
      // from the bit buffer, so the next member starts at next_in (the
      // multi-member tests hold ISA-L to this).
      if (st_->block_state == ISAL_BLOCK_FINISH) {
        member_done_ = true;
      } else if (got == 0 && st_->avail_in == 0 && eof_) {
        return Corrupt("gzip", "unexpected end of data");
      }
      if (got > 0) return got;
    }
  }

 private:
  void StartMember() {
    const uint8_t* next = st_->next_in;
    uint32_t avail = st_->avail_in;
    isal_inflate_init(st_.get());
    st_->crc_flag = ISAL_GZIP_NO_HDR_VER;
    st_->next_in = const_cast<uint8_t*>(next);
    st_->avail_in = avail;
    isal_gzip_header_init(&header_);  // name, comment and extra: not kept
    header_.flags = 0;                // not set by isal_gzip_header_init before ISA-L 2.31
    header_done_ = false;
    member_done_ = false;
  }

  static const char* IsalError(int r) {
    switch (r) {
      case ISAL_INVALID_BLOCK:
        return "invalid deflate block";
      case ISAL_INVALID_SYMBOL:
        return "invalid deflate symbol";
      case ISAL_INVALID_LOOKBACK:
        return "invalid distance too far back";
      case ISAL_INVALID_WRAPPER:
        return "invalid gzip header";
      case ISAL_UNSUPPORTED_METHOD:
        return "unknown compression method";
      case ISAL_INCORRECT_CHECKSUM:
        return "incorrect data check";
      default:
        return "inflate error";
    }
  }

  Status Fill() {
    Result<size_t> r = in_->Read(buf_.data(), buf_.size());
    if (!r.ok()) return r.status();
    if (*r == 0) eof_ = true;
    st_->next_in = reinterpret_cast<uint8_t*>(buf_.data());
    st_->avail_in = static_cast<uint32_t>(*r);
    return Status::Ok();
  }

  std::unique_ptr<ByteSource> in_;
  std::vector<char> buf_;
  std::unique_ptr<inflate_state> st_;  // 85 KiB of tables and history
  isal_gzip_header header_;
  bool header_done_ = false;
  bool eof_ = false;
  bool member_done_ = false;
};

class UnzstdSource : public ByteSource {
 public:
  explicit UnzstdSource(std::unique_ptr<ByteSource> in)
      : in_(std::move(in)), dctx_(ZSTD_createDCtx()), buf_(ZSTD_DStreamInSize()) {}
  ~UnzstdSource() override { ZSTD_freeDCtx(dctx_); }

  Result<size_t> Read(char* out, size_t n) override {
    while (true) {
      if (in_buf_.pos == in_buf_.size && !eof_) {
        Result<size_t> r = in_->Read(buf_.data(), buf_.size());
        if (!r.ok()) return r.status();
        if (*r == 0) eof_ = true;
        in_buf_ = {buf_.data(), *r, 0};
      }
      if (in_buf_.pos == in_buf_.size && eof_) {
        if (frame_open_) return Corrupt("zstd", "unexpected end of data");
        return size_t{0};
      }
      ZSTD_outBuffer o{out, n, 0};
      size_t r = ZSTD_decompressStream(dctx_, &o, &in_buf_);
      if (ZSTD_isError(r)) return Corrupt("zstd", ZSTD_getErrorName(r));
      frame_open_ = r != 0;
      if (o.pos > 0) return o.pos;
    }
  }

 private:
  std::unique_ptr<ByteSource> in_;
  ZSTD_DCtx* dctx_;
  std::vector<char> buf_;
  ZSTD_inBuffer in_buf_{nullptr, 0, 0};
  bool eof_ = false;
  bool frame_open_ = false;
};

}  // namespace

Result<std::unique_ptr<Compressor>> NewCompressor(const CompressOptions& o, ByteSink* out) {
  int threads = o.threads > 0 ? o.threads
                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  switch (o.compression) {
    case Compression::kNone:
      return std::unique_ptr<Compressor>(new PassThrough(out));
    case Compression::kGzip: {
      int level = o.level < 0 ? 6 : o.level;
      if (level > 9) {
        return Status(Code::kInvalidArgument,
                      "gzip level must be 0..9, got " + std::to_string(level));
      }
      if (o.gzip_block_size < 2 * kWindow) {
        return Status(Code::kInvalidArgument, "gzip block size must be at least 64 KiB");
      }
      return std::unique_ptr<Compressor>(
          new GzipCompressor(level, threads, o.gzip_block_size, out));
    }
    case Compression::kZstd: {
      int level = o.level < 0 ? 3 : o.level;
      if (level < 1 || level > ZSTD_maxCLevel()) {
        return Status(Code::kInvalidArgument, "zstd level must be 1.." +
                                                  std::to_string(ZSTD_maxCLevel()) + ", got " +
                                                  std::to_string(level));
      }
      auto z = std::make_unique<ZstdCompressor>(out);
      HOIST_RETURN_IF_ERROR(z->Init(level, threads));
      return std::unique_ptr<Compressor>(std::move(z));
    }
  }
  return Status(Code::kInvalidArgument, "unknown compression");
}

Detected DetectCompression(const char* head, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(head);
  if (n >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8) return Detected::kGzip;
  if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) {
    return Detected::kZstd;
  }
  return Detected::kUnknown;
}

Result<std::unique_ptr<ByteSource>> NewDecompressor(ByteSource* in, Detected* detected) {
  std::string head;
  char buf[4];
  while (head.size() < sizeof buf) {
    Result<size_t> r = in->Read(buf, sizeof buf - head.size());
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    head.append(buf, *r);
  }
  Detected d = DetectCompression(head.data(), head.size());
  if (detected) *detected = d;
  auto raw = std::make_unique<PrefixedSource>(std::move(head), in);
  switch (d) {
    case Detected::kGzip:
      return std::unique_ptr<ByteSource>(new GunzipSource(std::move(raw)));
    case Detected::kZstd:
      return std::unique_ptr<ByteSource>(new UnzstdSource(std::move(raw)));
    case Detected::kUnknown:
      break;
  }
  return std::unique_ptr<ByteSource>(std::move(raw));
}

}  // namespace hoist::layer
