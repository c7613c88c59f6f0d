// layer_bench: throughput of hoist's layer compression, for bench/layer.sh.
//
//   layer_bench [--compression gzip|zstd|none] [--level N] [--threads T]
//               [--layer] [--out FILE] INPUT
//
// Default: compress INPUT's bytes as a stream. --layer: write a whole layer
// with INPUT as its one file (tar + diff ID + compression + blob digest).
// Prints one line: "in_bytes out_bytes seconds MB/s ratio".
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "builder/layer/compress.h"
#include "builder/layer/writer.h"
#include "builder/store/file_io.h"

using namespace hoist;

namespace {

class CountingSink : public layer::ByteSink {
 public:
  explicit CountingSink(int fd) : fd_(fd) {}
  Status Write(const char* data, size_t n) override {
    bytes += n;
    return fd_ >= 0 ? store::WriteAll(fd_, data, n, "output") : Status::Ok();
  }
  uint64_t bytes = 0;

 private:
  int fd_;
};

int Usage() {
  std::fprintf(stderr,
               "usage: layer_bench [--compression gzip|zstd|none] [--level N] [--threads T] "
               "[--layer] [--out FILE] INPUT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  layer::CompressOptions co;
  bool as_layer = false;
  std::string input, out_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--compression") {
      Result<layer::Compression> c = layer::ParseCompression(next());
      if (!c.ok()) return Usage();
      co.compression = *c;
    } else if (a == "--level") {
      co.level = std::stoi(next());
    } else if (a == "--threads") {
      co.threads = std::stoi(next());
    } else if (a == "--layer") {
      as_layer = true;
    } else if (a == "--out") {
      out_path = next();
    } else if (!a.empty() && a[0] != '-') {
      input = a;
    } else {
      return Usage();
    }
  }
  if (input.empty()) return Usage();
  int out_fd = -1;
  if (!out_path.empty()) {
    out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
      std::perror(out_path.c_str());
      return 1;
    }
  }
  CountingSink sink(out_fd);
  struct stat st {};
  if (::stat(input.c_str(), &st) != 0) {
    std::perror(input.c_str());
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  Status s;
  uint64_t in_bytes = static_cast<uint64_t>(st.st_size);
  if (as_layer) {
    layer::LayerOptions lo;
    lo.compress = co;
    std::vector<layer::Entry> entries;
    entries.push_back(layer::Entry::HostFile("data/input", input, in_bytes));
    Result<layer::LayerDescriptor> d = layer::WriteLayer(std::move(entries), lo, sink);
    s = d.status();
  } else {
    Result<std::unique_ptr<layer::Compressor>> c = layer::NewCompressor(co, &sink);
    if (!c.ok()) {
      s = c.status();
    } else {
      Result<std::unique_ptr<store::FileSource>> f = store::OpenFileSource(input);
      if (!f.ok()) return std::fprintf(stderr, "%s\n", f.status().ToString().c_str()), 1;
      std::vector<char> buf(1 << 20);
      while (s.ok()) {
        Result<size_t> n = (*f)->Read(buf.data(), buf.size());
        if (!n.ok()) s = n.status();
        if (!n.ok() || *n == 0) break;
        s = (*c)->Write(buf.data(), *n);
      }
      if (s.ok()) s = (*c)->Finish();
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out_fd >= 0) ::close(out_fd);
  if (!s.ok()) {
    std::fprintf(stderr, "layer_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("%llu %llu %.3f %.1f %.4f\n", static_cast<unsigned long long>(in_bytes),
              static_cast<unsigned long long>(sink.bytes), secs, in_bytes / secs / 1e6,
              in_bytes ? static_cast<double>(sink.bytes) / in_bytes : 0.0);
  return 0;
}
