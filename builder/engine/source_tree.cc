// SourceTree over a directory, with the persistent stat index that lets a
// no-op rebuild compute its COPY keys without reading a file.
//
// Index file: JSON lines. The first is a header {"hoist_stat_index":1,
// "root":DIR}; each other line is one file:
//   ["rel/path", size, mtime_ns, ctime_ns, ino, dev, stat_sec, "sha256 hex"]
// stat_sec is the second (wall clock) at which the stat was taken; an entry
// is trusted by a later process only when the file's mtime is in an
// earlier second (git's racy-clean rule: a file rewritten within the second
// of its stat may keep its size and mtime).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "builder/engine/copy.h"
#include "builder/engine/tree_util.h"
#include "builder/store/file_io.h"

namespace hoist::engine {
namespace {

using json = nlohmann::json;

constexpr int kIndexVersion = 1;

int64_t Ns(const struct timespec& t) {
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

struct IndexEntry {
  uint64_t size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint64_t ino = 0, dev = 0;
  int64_t stat_sec = 0;
  std::string hex;
  bool trusted = false;  // hashed by this process, or loaded and not racy
  bool used = false;     // looked up or made by this process

  // A trusted entry for a file of `st` whose content is `d`, stat taken in
  // second `stat_sec`.
  static IndexEntry For(const struct stat& st, int64_t stat_sec, const Digest& d) {
    IndexEntry e;
    e.size = static_cast<uint64_t>(st.st_size);
    e.mtime_ns = Ns(st.st_mtim);
    e.ctime_ns = Ns(st.st_ctim);
    e.ino = st.st_ino;
    e.dev = st.st_dev;
    e.stat_sec = stat_sec;
    e.hex = d.hex();
    e.trusted = true;
    e.used = true;
    return e;
  }

  bool Same(const struct stat& st) const {
    return size == static_cast<uint64_t>(st.st_size) && mtime_ns == Ns(st.st_mtim) &&
           ctime_ns == Ns(st.st_ctim) && ino == st.st_ino && dev == st.st_dev;
  }
};

class DirectoryTree : public SourceTree {
 public:
  DirectoryTree(std::string name, std::string root, dockerfile::DockerIgnore ignore,
                std::string index_path, bool keep_owners)
      : name_(std::move(name)),
        root_(std::move(root)),
        ignore_(std::move(ignore)),
        index_path_(std::move(index_path)),
        keep_owners_(keep_owners) {}

  std::string Name() const override { return name_; }
  const std::string& root() const override { return root_; }
  bool Excluded(std::string_view rel) const override {
    return !ignore_.empty() && ignore_.Excluded(rel);
  }
  bool SkipExcludedDir(std::string_view rel) const override {
    return ignore_.CanSkipExcludedDir(rel);
  }
  bool KeepOwners() const override { return keep_owners_; }
  Stats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  Result<Digest> FileDigest(const std::string& rel) override {
    // Before the stat, and on the clock file times come from, so a write
    // racing this call has an mtime in this second or later (untrusted).
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    std::string host = root_ + "/" + rel;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status(Code::kNotFound, name_ + ": " + rel + ": not found");
      return ErrnoStatus("lstat", host);
    }
    if (!S_ISREG(st.st_mode)) {
      return Status(Code::kInvalidArgument, name_ + ": " + rel + " is not a regular file");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = index_.find(rel);
      if (it != index_.end() && it->second.trusted && it->second.Same(st)) {
        it->second.used = true;
        ++stats_.index_hits;
        return Digest::FromHex(DigestAlgorithm::kSha256, it->second.hex);
      }
    }
    int fd = ::open(host.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", host);
    store::UniqueFd owned(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    uint64_t bytes = 0;
    Result<Digest> d = HashFd(fd, host, &bytes);
    if (!d.ok()) return d.status();
    std::lock_guard<std::mutex> lock(mu_);
    index_[rel] = IndexEntry::For(st, now.tv_sec, *d);
    ++stats_.hashed;
    stats_.hashed_bytes += bytes;
    return d;
  }

  // An entry for a file whose digest the caller knows (SeedIndex).
  void Seed(const std::string& rel, const Digest& d) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
    struct stat st {};
    if (::lstat((root_ + "/" + rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    std::lock_guard<std::mutex> lock(mu_);
    index_[rel] = IndexEntry::For(st, now.tv_sec, d);
  }

  void LoadIndex() {
    if (index_path_.empty()) return;
    std::ifstream in(index_path_, std::ios::binary);
    if (!in) return;
    std::string line;
    if (!std::getline(in, line)) return;
    json head = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!head.is_object() || head.value("hoist_stat_index", 0) != kIndexVersion ||
        head.value("root", "") != root_) {
      return;  // another format or another directory: start afresh
    }
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_array() || j.size() != 8 || !j[0].is_string() || !j[7].is_string()) continue;
      IndexEntry e;
      e.size = j[1].get<uint64_t>();
      e.mtime_ns = j[2].get<int64_t>();
      e.ctime_ns = j[3].get<int64_t>();
      e.ino = j[4].get<uint64_t>();
      e.dev = j[5].get<uint64_t>();
      e.stat_sec = j[6].get<int64_t>();
      e.hex = j[7].get<std::string>();
      if (e.hex.size() != 64) continue;
      // Racy-clean rule: a file changed in the second of its stat may have
      // kept its mtime; only strictly older files are trusted.
      e.trusted = e.mtime_ns / 1000000000 < e.stat_sec;
      index_.emplace(j[0].get<std::string>(), std::move(e));
    }
  }

  Status Save() {
    if (index_path_.empty()) return Status::Ok();
    std::ostringstream out;
    out << json{{"hoist_stat_index", kIndexVersion}, {"root", root_}}.dump() << "\n";
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [rel, e] : index_) {
        // Entries this build never looked at stay while their file exists.
        if (!e.used) {
          struct stat st {};
          if (::lstat((root_ + "/" + rel).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        }
        out << json::array({rel, e.size, e.mtime_ns, e.ctime_ns, e.ino, e.dev, e.stat_sec, e.hex})
                   .dump()
            << "\n";
      }
    }
    size_t slash = index_path_.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      HOIST_RETURN_IF_ERROR(store::MakeDirs(index_path_.substr(0, slash)));
    }
    std::string tmp = index_path_ + ".tmp-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("create", tmp);
    std::string data = out.str();
    Status w = store::WriteAll(fd, data.data(), data.size(), tmp);
    if (::close(fd) != 0 && w.ok()) w = ErrnoStatus("close", tmp);
    if (w.ok() && ::rename(tmp.c_str(), index_path_.c_str()) != 0) w = ErrnoStatus("rename", tmp);
    if (!w.ok()) ::unlink(tmp.c_str());
    return w;
  }

 private:
  const std::string name_;
  const std::string root_;
  const dockerfile::DockerIgnore ignore_;
  const std::string index_path_;
  const bool keep_owners_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, IndexEntry> index_;
  Stats stats_;
};

Result<std::unique_ptr<SourceTree>> OpenTree(std::string name, const std::string& dir,
                                             dockerfile::DockerIgnore ignore,
                                             const std::string& index_path, bool keep_owners) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, name + " directory " + dir + ": not found");
    return ErrnoStatus("stat", dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument, name + ": " + dir + " is not a directory");
  }
  // Canonical, so an index keyed by the directory survives "./ctx" vs "ctx".
  char* real = ::realpath(dir.c_str(), nullptr);
  std::string root = real ? real : dir;
  std::free(real);
  auto tree = std::make_unique<DirectoryTree>(std::move(name), std::move(root), std::move(ignore),
                                              index_path, keep_owners);
  tree->LoadIndex();
  return std::unique_ptr<SourceTree>(std::move(tree));
}

}  // namespace

Result<std::unique_ptr<SourceTree>> OpenDirectoryTree(std::string name, const std::string& dir,
                                                      dockerfile::DockerIgnore ignore,
                                                      const std::string& index_path) {
  return OpenTree(std::move(name), dir, std::move(ignore), index_path, /*keep_owners=*/false);
}

Result<std::unique_ptr<SourceTree>> OpenStageTree(std::string name, const std::string& dir,
                                                  const std::string& index_path) {
  return OpenTree(std::move(name), dir, dockerfile::DockerIgnore(), index_path,
                  /*keep_owners=*/true);
}

Status SaveIndex(SourceTree& tree) {
  auto* d = dynamic_cast<DirectoryTree*>(&tree);
  return d ? d->Save() : Status::Ok();
}

Status SeedIndex(const std::string& dir, const std::string& index_path,
                 const std::vector<std::pair<std::string, Digest>>& known) {
  Result<std::unique_ptr<SourceTree>> tree =
      OpenTree("context", dir, dockerfile::DockerIgnore(), index_path, false);
  if (!tree.ok()) return tree.status();
  auto* d = static_cast<DirectoryTree*>(tree->get());
  for (const auto& [rel, digest] : known) d->Seed(rel, digest);
  return d->Save();
}

}  // namespace hoist::engine
