// Filesystem StorageDriver: paths map below a root directory. Small content
// is replaced atomically (temporary file + rename); moves are rename(2), so
// a blob appears whole or not at all, whatever is killed when.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>

#include "registry/storage/driver.h"

namespace hoist::storage {
namespace {

class FdReader : public FileReader {
 public:
  explicit FdReader(int fd) : fd_(fd) {}
  ~FdReader() override { ::close(fd_); }
  FdReader(const FdReader&) = delete;
  FdReader& operator=(const FdReader&) = delete;

  Result<size_t> Read(char* buf, size_t n) override {
    while (true) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return ErrnoStatus("read", "blob");
    }
  }
  int fd() const override { return fd_; }

 private:
  int fd_;
};

class FdWriter : public FileWriter {
 public:
  FdWriter(int fd, std::string path, int64_t size, bool reserve)
      : fd_(fd), path_(std::move(path)), size_(size), reserve_ok_(reserve) {}
  ~FdWriter() override {
    if (fd_ >= 0) ::close(fd_);
  }
  FdWriter(const FdWriter&) = delete;
  FdWriter& operator=(const FdWriter&) = delete;

  Status Write(const char* data, size_t n) override {
    Reserve(n);
    while (n > 0) {
      ssize_t w = ::write(fd_, data, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_);
      }
      data += w;
      n -= static_cast<size_t>(w);
      size_ += w;
    }
    return Status::Ok();
  }
  int64_t Size() const override { return size_; }
  Status Commit() override {
    int fd = fd_;
    fd_ = -1;
    // Give back what Reserve took beyond the end.
    if (reserved_end_ > size_ && ::ftruncate(fd, size_) != 0) {
      Status s = ErrnoStatus("truncate", path_);
      ::close(fd);
      return s;
    }
    if (::close(fd) != 0) return ErrnoStatus("close", path_);
    return Status::Ok();
  }
  void Cancel() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
  }

 private:
  // Allocates blocks ahead of the writes (growing by up to 64 MiB): on ext4
  // this makes large sequential writes several times cheaper in CPU than
  // letting each page allocate on its own. Best effort.
  void Reserve(size_t n) {
    if (size_ + static_cast<int64_t>(n) <= reserved_end_ || !reserve_ok_) return;
    int64_t step = std::clamp<int64_t>(size_, 1 << 20, 64 << 20);
    int64_t len = std::max<int64_t>(static_cast<int64_t>(n), step);
    if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, size_, len) == 0) {
      reserved_end_ = size_ + len;
    } else {
      reserve_ok_ = false;  // e.g. a filesystem without fallocate
    }
  }

  int fd_;
  std::string path_;
  int64_t size_;
  int64_t reserved_end_ = 0;
  bool reserve_ok_;
};

std::string RandomSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rng() % 1000000007);
}

class FilesystemDriver : public StorageDriver {
 public:
  explicit FilesystemDriver(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  std::string Name() const override { return "filesystem"; }

  Result<std::string> GetContent(const std::string& path) override {
    std::string full = Full(path);
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path);
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      ::close(fd);
      return Status(Code::kNotFound, path + " is a directory");
    }
    out.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    while (true) {
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        Status s = ErrnoStatus("read", path);
        ::close(fd);
        return s;
      }
      if (r == 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    ::close(fd);
    return out;
  }

  Status PutContent(const std::string& path, std::string_view content) override {
    std::string full = Full(path);
    HOIST_RETURN_IF_ERROR(MakeParents(full));
    std::string tmp = full + ".tmp-" + RandomSuffix();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("create", path);
    FdWriter w(fd, tmp, 0, false);
    Status st = w.Write(content.data(), content.size());
    if (st.ok()) st = w.Commit();
    if (st.ok() && ::rename(tmp.c_str(), full.c_str()) != 0) st = ErrnoStatus("rename", path);
    if (!st.ok()) ::unlink(tmp.c_str());
    return st;
  }

  Result<std::unique_ptr<FileReader>> Reader(const std::string& path, int64_t offset) override {
    int fd = ::open(Full(path).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", path);
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode) || offset > st.st_size || offset < 0) {
      ::close(fd);
      if (S_ISDIR(st.st_mode)) return Status(Code::kNotFound, path + " is a directory");
      return Status(Code::kRangeInvalid, "offset beyond the end of " + path);
    }
    if (offset > 0 && ::lseek(fd, offset, SEEK_SET) != offset) {
      ::close(fd);
      return ErrnoStatus("seek", path);
    }
    return std::unique_ptr<FileReader>(new FdReader(fd));
  }

  Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) override {
    std::string full = Full(path);
    HOIST_RETURN_IF_ERROR(MakeParents(full));
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = ::open(full.c_str(), flags, 0644);
    if (fd < 0) return ErrnoStatus("open", path);
    struct stat st {};
    ::fstat(fd, &st);
    return std::unique_ptr<FileWriter>(new FdWriter(fd, full, st.st_size, true));
  }

  Result<FileInfo> Stat(const std::string& path) override {
    struct stat st {};
    if (::stat(Full(path).c_str(), &st) != 0) return ErrnoStatus("stat", path);
    FileInfo fi;
    fi.path = path;
    fi.is_dir = S_ISDIR(st.st_mode);
    fi.size = fi.is_dir ? 0 : st.st_size;
    fi.mtime_unix = st.st_mtim.tv_sec;
    return fi;
  }

  Result<std::vector<std::string>> List(const std::string& path) override {
    DIR* dir = ::opendir(Full(path).c_str());
    if (!dir) return ErrnoStatus("list", path);
    std::vector<std::string> out;
    std::string prefix = path == "/" ? "/" : path + "/";
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      out.push_back(prefix + std::string(n));
    }
    ::closedir(dir);
    return out;
  }

  Status Move(const std::string& from, const std::string& to) override {
    std::string dst = Full(to);
    HOIST_RETURN_IF_ERROR(MakeParents(dst));
    std::string src = Full(from);
    if (::rename(src.c_str(), dst.c_str()) == 0) return Status::Ok();
    if (errno != ENOTEMPTY && errno != EEXIST) return ErrnoStatus("move", from);
    // A non-empty directory is in the way: move it aside, move `from` in,
    // then delete the old tree.
    std::string aside = dst + ".old-" + RandomSuffix();
    if (::rename(dst.c_str(), aside.c_str()) != 0) return ErrnoStatus("move aside", to);
    if (::rename(src.c_str(), dst.c_str()) != 0) {
      Status st = ErrnoStatus("move", from);
      (void)::rename(aside.c_str(), dst.c_str());
      return st;
    }
    std::error_code ec;
    std::filesystem::remove_all(aside, ec);
    return Status::Ok();
  }

  Status Delete(const std::string& path) override {
    std::error_code ec;
    std::string full = Full(path);
    if (!std::filesystem::exists(std::filesystem::symlink_status(full, ec))) {
      return Status(Code::kNotFound, "delete " + path + ": not found");
    }
    std::filesystem::remove_all(full, ec);
    if (ec) return Status(Code::kIo, "delete " + path + ": " + ec.message());
    return Status::Ok();
  }

 private:
  std::string Full(const std::string& path) const { return root_ + path; }

  static Status MakeParents(const std::string& full) {
    size_t slash = full.rfind('/');
    if (slash == std::string::npos || slash == 0) return Status::Ok();
    std::string dir = full.substr(0, slash);
    // Fast path: the parent usually exists.
    if (::access(dir.c_str(), F_OK) == 0) return Status::Ok();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status(Code::kIo, "mkdir " + dir + ": " + ec.message());
    return Status::Ok();
  }

  std::string root_;
};

}  // namespace

std::unique_ptr<StorageDriver> NewFilesystemDriver(std::string root) {
  return std::make_unique<FilesystemDriver>(std::move(root));
}

}  // namespace hoist::storage
