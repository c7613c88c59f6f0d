#include "registry/storage/blob_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include "registry/storage/forwarding.h"

namespace hoist::storage {
namespace {

constexpr const char* kPartial = ".partial.";  // a pull's copy being filled
constexpr const char* kStaged = ".staged.";    // a push's bytes, before the commit

class BlobCacheDriver final : public ForwardingDriver {
 public:
  BlobCacheDriver(std::unique_ptr<StorageDriver> inner, std::unique_ptr<StorageDriver> local,
                  BlobCacheOptions o)
      : ForwardingDriver(std::move(inner)), local_(std::move(local)), o_(std::move(o)) {}

  // Indexes the copies a previous process left; removes its partial files.
  Status Load() {
    std::vector<FileInfo> found;
    Status st = local_->Walk("/", [&](const FileInfo& f) {
      if (!f.is_dir) found.push_back(f);
      return WalkAction::kContinue;
    });
    if (!st.ok() && st.code() != Code::kNotFound) return st;
    std::sort(found.begin(), found.end(),
              [](const FileInfo& a, const FileInfo& b) { return a.mtime_unix < b.mtime_unix; });
    std::lock_guard<std::mutex> l(mu_);
    for (const FileInfo& f : found) {
      if (o_.immutable(f.path)) {
        copies_[f.path] = Copy{f.size, ++clock_};
        bytes_ += f.size;
      } else if (Unfinished(f.path)) {
        (void)local_->Delete(f.path);
      }  // anything else is not this cache's: left alone
    }
    Trim();
    return Status::Ok();
  }

  Status PutContent(const std::string& path, std::string_view content) override {
    Drop(path);
    return inner_->PutContent(path, content);
  }

  Result<std::unique_ptr<FileReader>> Reader(const std::string& path, int64_t offset) override {
    if (!o_.immutable(path)) return inner_->Reader(path, offset);
    if (Touch(path)) {
      Result<std::unique_ptr<FileReader>> r = local_->Reader(path, offset);
      if (r.ok() || r.status().code() == Code::kRangeInvalid) return r;
      Drop(path);  // evicted or removed under us: read it remotely
    }
    Result<std::unique_ptr<FileReader>> r = inner_->Reader(path, offset);
    // Only a whole read fills a copy, and only one at a time per path. The
    // size (asked of the read cache in front of the store, which the
    // registry's own Stat just filled) says when the read is whole: the
    // HTTP layer stops reading at the blob's length, before any end.
    if (!r.ok() || offset != 0) return r;
    Result<FileInfo> info = inner_->Stat(path);
    if (!info.ok() || info->size > o_.max_bytes) return r;
    const uint64_t claim = Claim(path);
    if (claim == 0) return r;
    std::string partial =
        path + kPartial + std::to_string(::getpid()) + "." + std::to_string(claim);
    Result<std::unique_ptr<FileWriter>> w = local_->Writer(partial, false);
    if (!w.ok()) {
      Release(path, claim);
      return r;
    }
    return std::unique_ptr<FileReader>(new TeeReader(
        *this, path, claim, info->size, std::move(partial), std::move(*r), std::move(*w)));
  }

  // An upload session's data (o_.staging) is written to a local file too,
  // when that file holds what the store holds before this write: all of
  // the session's PATCHes came through this process.
  Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) override {
    Drop(path);
    Result<std::unique_ptr<FileWriter>> w = inner_->Writer(path, append);
    if (!w.ok() || !o_.staging || !o_.staging(path)) return w;
    const int64_t before = (*w)->Size();
    std::string file;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = staged_.find(path);
      if (it != staged_.end()) {
        if (before > 0 && it->second.size == before) {
          file = it->second.file;
        } else {
          (void)local_->Delete(it->second.file);
        }
        staged_.erase(it);  // recorded again only by a commit of this write
      }
      if (file.empty() && before == 0) {
        file = path + kStaged + std::to_string(::getpid()) + "." + std::to_string(++claims_);
      }
    }
    if (file.empty()) return w;  // PATCHes through another process: nothing to stage
    Result<std::unique_ptr<FileWriter>> lw = local_->Writer(file, before > 0);
    if (!lw.ok()) return w;
    if ((*lw)->Size() != before) {
      (*lw)->Cancel();
      return w;
    }
    return std::unique_ptr<FileWriter>(
        new StagingWriter(*this, path, std::move(file), std::move(*w), std::move(*lw)));
  }
  // An upload's data moved to a blob: its staged bytes become the blob's
  // copy when the store's blob has their size.
  Status Move(const std::string& from, const std::string& to) override {
    std::optional<Staged> staged;
    if (o_.immutable(to)) {
      std::lock_guard<std::mutex> l(mu_);
      if (auto it = staged_.find(from); it != staged_.end()) {
        staged = it->second;
        staged_.erase(it);
      }
    }
    Drop(from, true);
    Drop(to, true);
    Status st = inner_->Move(from, to);
    if (staged) {
      Result<FileInfo> info = st.ok() ? inner_->Stat(to) : Result<FileInfo>(st);
      std::lock_guard<std::mutex> l(mu_);
      if (!info.ok() || info->size != staged->size || !Install(to, staged->file, staged->size)) {
        (void)local_->Delete(staged->file);
      }
    }
    return st;
  }
  Status Delete(const std::string& path) override {
    Drop(path, true);
    Status st = inner_->Delete(path);
    Drop(path, true);  // a copy a read finished meanwhile
    return st;
  }

 private:
  struct Copy {
    int64_t size = 0;
    uint64_t last_read = 0;
  };
  struct Staged {
    std::string file;  // local path of the bytes
    int64_t size = 0;
  };

  // The store's writer, with every byte it takes also written to the local
  // file; the file is kept (as staged_) only when both commit.
  class StagingWriter final : public FileWriter {
   public:
    StagingWriter(BlobCacheDriver& c, std::string path, std::string file,
                  std::unique_ptr<FileWriter> remote, std::unique_ptr<FileWriter> local)
        : c_(c),
          path_(std::move(path)),
          file_(std::move(file)),
          remote_(std::move(remote)),
          local_(std::move(local)) {}
    ~StagingWriter() override {
      if (local_) local_->Cancel();  // the store's data is as before this write
    }
    StagingWriter(const StagingWriter&) = delete;
    StagingWriter& operator=(const StagingWriter&) = delete;

    Status Write(const char* data, size_t n) override {
      Status st = remote_->Write(data, n);
      if (local_ &&
          (!st.ok() || !local_->Write(data, n).ok() || local_->Size() > c_.o_.max_bytes)) {
        local_->Cancel();
        local_.reset();
      }
      return st;
    }
    int64_t Size() const override { return remote_->Size(); }
    Status Commit() override {
      Status st = remote_->Commit();
      if (!local_) return st;
      std::unique_ptr<FileWriter> local = std::move(local_);
      if (!st.ok() || !local->Commit().ok() || local->Size() != remote_->Size()) {
        local->Cancel();
        return st;
      }
      std::lock_guard<std::mutex> l(c_.mu_);
      c_.staged_[path_] = Staged{file_, local->Size()};
      return st;
    }
    void Cancel() override {
      remote_->Cancel();
      if (local_) local_->Cancel();
      local_.reset();
    }

   private:
    BlobCacheDriver& c_;
    std::string path_, file_;
    std::unique_ptr<FileWriter> remote_, local_;
  };

  // The remote reader, with every byte it gives also written to the partial
  // file; when it holds `size` bytes, the file becomes the copy. A read
  // that ends or fails before, or goes beyond, keeps nothing.
  class TeeReader final : public FileReader {
   public:
    TeeReader(BlobCacheDriver& c, std::string path, uint64_t claim, int64_t size,
              std::string partial, std::unique_ptr<FileReader> in, std::unique_ptr<FileWriter> out)
        : c_(c),
          path_(std::move(path)),
          claim_(claim),
          size_(size),
          partial_(std::move(partial)),
          in_(std::move(in)),
          out_(std::move(out)) {}
    ~TeeReader() override {
      if (out_) out_->Cancel();
      c_.Release(path_, claim_);
    }
    TeeReader(const TeeReader&) = delete;
    TeeReader& operator=(const TeeReader&) = delete;

    Result<size_t> Read(char* buf, size_t n) override {
      Result<size_t> r = in_->Read(buf, n);
      if (!out_) return r;
      // (A full disk fails the write: the read goes on, nothing is kept.)
      if (!r.ok() || *r == 0 || !out_->Write(buf, *r).ok() || out_->Size() > size_) {
        out_->Cancel();
        out_.reset();
      } else if (out_->Size() == size_) {
        std::unique_ptr<FileWriter> out = std::move(out_);
        if (!out->Commit().ok() || !c_.Admit(path_, claim_, partial_, size_)) {
          (void)c_.local_->Delete(partial_);
        }
      }
      return r;
    }

   private:
    BlobCacheDriver& c_;
    std::string path_;
    uint64_t claim_;
    int64_t size_;
    std::string partial_;
    std::unique_ptr<FileReader> in_;
    std::unique_ptr<FileWriter> out_;
  };

  // Whether `path` is a partial or staged file this cache names: "<an
  // immutable or staging path><marker><pid>.<n>".
  bool Unfinished(const std::string& path) const {
    for (const char* marker : {kPartial, kStaged}) {
      size_t at = path.rfind(marker);
      if (at == std::string::npos) continue;
      std::string_view rest = std::string_view(path).substr(at + std::strlen(marker));
      if (rest.empty() || rest.find_first_not_of("0123456789.") != std::string_view::npos) continue;
      std::string base = path.substr(0, at);
      if (o_.immutable(base) || (o_.staging && o_.staging(base))) return true;
    }
    return false;
  }

  // True when a copy of `path` is indexed; it becomes the most recent.
  bool Touch(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = copies_.find(path);
    if (it == copies_.end()) return false;
    it->second.last_read = ++clock_;
    return true;
  }

  // Marks `path` as being filled by the read given the returned number; 0
  // when another read is filling it.
  uint64_t Claim(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    auto [it, fresh] = filling_.try_emplace(path, ++claims_);
    return fresh ? it->second : 0;
  }
  void Release(const std::string& path, uint64_t claim) {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = filling_.find(path); it != filling_.end() && it->second == claim) {
      filling_.erase(it);
    }
  }

  // Renames a filled partial file into place and indexes it, unless the
  // path was dropped (deleted, rewritten) since the read began or it would
  // not fit at all.
  bool Admit(const std::string& path, uint64_t claim, const std::string& partial, int64_t size) {
    std::lock_guard<std::mutex> l(mu_);
    auto f = filling_.find(path);
    if (f == filling_.end() || f->second != claim) return false;
    return Install(path, partial, size);
  }

  // REQUIRES: mu_ held. The local `file` becomes the copy of `path`.
  bool Install(const std::string& path, const std::string& file, int64_t size) {
    if (size > o_.max_bytes || !local_->Move(file, path).ok()) return false;
    if (auto it = copies_.find(path); it != copies_.end()) bytes_ -= it->second.size;
    copies_[path] = Copy{size, ++clock_};
    bytes_ += size;
    Trim();
    return true;
  }

  // REQUIRES: mu_ held. Removes the least recently read copies until the
  // rest fits.
  void Trim() {
    while (bytes_ > o_.max_bytes && !copies_.empty()) {
      auto oldest = copies_.begin();
      for (auto it = copies_.begin(); it != copies_.end(); ++it) {
        if (it->second.last_read < oldest->second.last_read) oldest = it;
      }
      Forget(oldest);
    }
  }

  // Forgets and removes the copy of `path` (with `tree`, of all below it
  // too); a fill in progress for it will not be admitted.
  void Drop(const std::string& path, bool tree = false) {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = copies_.find(path); it != copies_.end()) Forget(it);
    filling_.erase(path);
    if (!tree) return;
    // An upload session deleted (or moved): its staged bytes go too.
    if (auto it = staged_.find(path); it != staged_.end()) {
      (void)local_->Delete(it->second.file);
      staged_.erase(it);
    }
    const std::string prefix = path + "/";
    for (auto it = copies_.lower_bound(prefix);
         it != copies_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      Forget(it++);
    }
    for (auto it = filling_.lower_bound(prefix);
         it != filling_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      filling_.erase(it++);
    }
    for (auto it = staged_.lower_bound(prefix);
         it != staged_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      (void)local_->Delete(it->second.file);
      staged_.erase(it++);
    }
  }

  // REQUIRES: mu_ held.
  void Forget(std::map<std::string, Copy>::iterator it) {
    (void)local_->Delete(it->first);
    bytes_ -= it->second.size;
    copies_.erase(it);
  }

  std::unique_ptr<StorageDriver> local_;  // the copies, by the same paths
  const BlobCacheOptions o_;
  std::mutex mu_;
  // Ordered, so that a directory's copies are one range.
  std::map<std::string, Copy> copies_;
  std::map<std::string, uint64_t> filling_;  // path -> claim
  std::map<std::string, Staged> staged_;     // upload data path -> its local bytes
  uint64_t claims_ = 0;
  int64_t bytes_ = 0;
  uint64_t clock_ = 0;  // read order
};

}  // namespace

Result<std::unique_ptr<StorageDriver>> NewBlobCacheDriver(std::unique_ptr<StorageDriver> inner,
                                                          BlobCacheOptions options) {
  if (options.dir.empty()) return inner;
  if (!options.immutable) {
    return Status(Code::kInvalidArgument, "a blob cache needs to know which paths are immutable");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return Status(Code::kIo, "cannot create the blob cache " + options.dir + ": " + ec.message());
  }
  std::string dir = std::filesystem::absolute(options.dir).lexically_normal().string();
  auto d = std::make_unique<BlobCacheDriver>(std::move(inner), NewFilesystemDriver(dir),
                                             std::move(options));
  HOIST_RETURN_IF_ERROR(d->Load());
  return std::unique_ptr<StorageDriver>(std::move(d));
}

}  // namespace hoist::storage
