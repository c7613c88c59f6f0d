// Helpers for the layer tests: temp dirs, running real tools, in-memory
// sinks and sources, and hand-made (possibly malicious) tars.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "builder/layer/compress.h"
#include "builder/layer/writer.h"
#include "builder/store/file_io.h"
#include "common/io.h"

namespace hoist::layer::test {

// A fresh directory under $TMPDIR, removed (without following symlinks) at
// scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
    tmpl += "/hoist-layer-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    REQUIRE(::mkdtemp(buf.data()) != nullptr);
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    // Make read-only directories removable first.
    std::filesystem::path p(path_);
    for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
    }
    std::filesystem::remove_all(p, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct Run {
  int code;
  std::string out;  // stdout (stderr goes to the test's stderr)
};

// Runs a shell command, capturing stdout.
inline Run Sh(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline bool HaveTool(const std::string& name) {
  return Sh("command -v " + name + " >/dev/null 2>&1").code == 0;
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
  REQUIRE(f.good());
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

class StringSink : public ByteSink {
 public:
  Status Write(const char* data, size_t n) override {
    data_.append(data, n);
    return Status::Ok();
  }
  std::string& data() { return data_; }

 private:
  std::string data_;
};

class FileSink : public ByteSink {
 public:
  explicit FileSink(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd_ >= 0);
  }
  ~FileSink() override { ::close(fd_); }
  Status Write(const char* data, size_t n) override { return store::WriteAll(fd_, data, n, path_); }

 private:
  std::string path_;
  int fd_;
};

// Serves a string (common/io.h).
using StringSource = ::hoist::StringSource;

// Deterministic pseudo-random bytes (xorshift64*), generated on the fly so
// large inputs cost no memory. text=true gives compressible lowercase words.
class PatternSource : public ByteSource {
 public:
  PatternSource(uint64_t size, uint64_t seed, bool text = false)
      : left_(size), x_(seed * 2654435761u + 1), text_(text) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = static_cast<size_t>(std::min<uint64_t>(n, left_));
    for (size_t i = 0; i < k; ++i) {
      x_ ^= x_ >> 12;
      x_ ^= x_ << 25;
      x_ ^= x_ >> 27;
      uint64_t v = x_ * 0x2545F4914F6CDD1Dull;
      buf[i] = text_ ? " etaoinshrdlu\n"[(v >> 40) % 14] : static_cast<char>(v >> 56);
    }
    left_ -= k;
    return k;
  }

 private:
  uint64_t left_;
  uint64_t x_;
  bool text_;
};

inline std::string Pattern(size_t size, uint64_t seed, bool text = false) {
  PatternSource src(size, seed, text);
  std::string s(size, '\0');
  size_t off = 0;
  while (off < size) off += *src.Read(s.data() + off, size - off);
  return s;
}

// A tar entry written verbatim (no cleaning): for malicious archives.
struct RawEntry {
  std::string name;
  mode_t type = AE_IFREG;
  std::string content;
  std::string symlink;
  std::string hardlink;
  unsigned mode = 0644;
  int64_t uid = 0, gid = 0;
  unsigned rdev_major = 0, rdev_minor = 0;
};

inline RawEntry RawFile(std::string name, std::string content = "") {
  RawEntry r;
  r.name = std::move(name);
  r.content = std::move(content);
  return r;
}
inline RawEntry RawDir(std::string name) {
  RawEntry r;
  r.name = std::move(name);
  r.type = AE_IFDIR;
  r.mode = 0755;
  return r;
}
inline RawEntry RawSymlink(std::string name, std::string target) {
  RawEntry r;
  r.name = std::move(name);
  r.type = AE_IFLNK;
  r.symlink = std::move(target);
  r.mode = 0777;
  return r;
}
inline RawEntry RawLink(std::string name, std::string target) {
  RawEntry r;
  r.name = std::move(name);
  r.hardlink = std::move(target);
  return r;
}

// Writes a (pax, optionally gzip) tar of `entries` to `path` with libarchive.
inline void CraftTar(const std::string& path, const std::vector<RawEntry>& entries,
                     bool gzip = false) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  if (gzip) archive_write_add_filter_gzip(a);
  REQUIRE(archive_write_open_filename(a, path.c_str()) == ARCHIVE_OK);
  for (const RawEntry& r : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_copy_pathname(e, r.name.c_str());
    archive_entry_set_filetype(e, r.type);
    archive_entry_set_perm(e, r.mode);
    archive_entry_set_uid(e, r.uid);
    archive_entry_set_gid(e, r.gid);
    if (!r.symlink.empty()) archive_entry_copy_symlink(e, r.symlink.c_str());
    if (!r.hardlink.empty()) archive_entry_copy_hardlink(e, r.hardlink.c_str());
    if (r.type == AE_IFCHR || r.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(e, r.rdev_major);
      archive_entry_set_rdevminor(e, r.rdev_minor);
    }
    archive_entry_set_size(e, r.type == AE_IFREG && r.hardlink.empty()
                                  ? static_cast<la_int64_t>(r.content.size())
                                  : 0);
    REQUIRE(archive_write_header(a, e) >= ARCHIVE_WARN);
    if (!r.content.empty()) archive_write_data(a, r.content.data(), r.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// Writes a layer to the file `path`; REQUIREs success.
inline LayerDescriptor WriteLayerFile(const std::string& path, std::vector<Entry> entries,
                                      const LayerOptions& options) {
  FileSink sink(path);
  Result<LayerDescriptor> d = WriteLayer(std::move(entries), options, sink);
  INFO(d.status().ToString());
  REQUIRE(d.ok());
  return *d;
}

inline std::string Sha256Hex(const std::string& file) {
  Run r = Sh("sha256sum < '" + file + "' | cut -d' ' -f1");
  REQUIRE(r.code == 0);
  return r.out.substr(0, 64);
}

}  // namespace hoist::layer::test
