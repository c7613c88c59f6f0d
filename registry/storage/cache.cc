#include "registry/storage/cache.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "registry/storage/forwarding.h"

namespace hoist::storage {
namespace {

using Clock = std::chrono::steady_clock;

bool Cacheable(const std::string& path) {
  return path.find("/_uploads/") == std::string::npos;
}

class CachingDriver final : public ForwardingDriver {
 public:
  CachingDriver(std::unique_ptr<StorageDriver> inner, CacheOptions o)
      : ForwardingDriver(std::move(inner)), o_(o) {}

  Result<std::string> GetContent(const std::string& path) override {
    if (!Cacheable(path)) return inner_->GetContent(path);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (const Entry* e = Fresh(path); e && e->content) return *e->content;
      gen = generation_;
    }
    Result<std::string> r = inner_->GetContent(path);
    if (r.ok() && r->size() <= o_.max_entry_bytes) {
      Keep(path, gen, [&](Entry& e) { e.content = *r; });
    }
    return r;
  }

  Result<FileInfo> Stat(const std::string& path) override {
    if (!Cacheable(path)) return inner_->Stat(path);
    uint64_t gen;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (const Entry* e = Fresh(path); e && e->info) return *e->info;
      gen = generation_;
    }
    Result<FileInfo> r = inner_->Stat(path);
    if (r.ok()) Keep(path, gen, [&](Entry& e) { e.info = *r; });
    return r;
  }

  Status PutContent(const std::string& path, std::string_view content) override {
    Drop(path);
    Status st = inner_->PutContent(path, content);
    Drop(path);
    return st;
  }

  Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) override {
    Drop(path);
    Result<std::unique_ptr<FileWriter>> w = inner_->Writer(path, append);
    if (!w.ok()) return w;
    return std::unique_ptr<FileWriter>(new DroppingWriter(*this, path, std::move(*w)));
  }

  Status Move(const std::string& from, const std::string& to) override {
    Drop(from, true);
    Drop(to, true);
    Status st = inner_->Move(from, to);
    Drop(from, true);
    Drop(to, true);
    return st;
  }

  Status Delete(const std::string& path) override {
    Drop(path, true);
    Status st = inner_->Delete(path);
    Drop(path, true);
    return st;
  }

 private:
  struct Entry {
    Clock::time_point expires;
    std::optional<std::string> content;
    std::optional<FileInfo> info;
  };

  // A writer whose commit (or cancel) drops the path again: a reader that
  // cached it while the write was in flight must not keep the old answer.
  class DroppingWriter final : public FileWriter {
   public:
    DroppingWriter(CachingDriver& c, std::string path, std::unique_ptr<FileWriter> w)
        : c_(c), path_(std::move(path)), w_(std::move(w)) {}
    Status Write(const char* data, size_t n) override { return w_->Write(data, n); }
    int64_t Size() const override { return w_->Size(); }
    Status Commit() override {
      Status st = w_->Commit();
      c_.Drop(path_);
      return st;
    }
    void Cancel() override {
      w_->Cancel();
      c_.Drop(path_);
    }

   private:
    CachingDriver& c_;
    std::string path_;
    std::unique_ptr<FileWriter> w_;
  };

  // REQUIRES: mu_ held.
  const Entry* Fresh(const std::string& path) {
    auto it = entries_.find(path);
    if (it == entries_.end()) return nullptr;
    if (it->second.expires <= Clock::now()) {
      Forget(it);
      return nullptr;
    }
    return &it->second;
  }

  // REQUIRES: mu_ held.
  void Forget(std::unordered_map<std::string, Entry>::iterator it) {
    bytes_ -= Cost(it->first, it->second);
    entries_.erase(it);
  }

  static size_t Cost(const std::string& path, const Entry& e) {
    return path.size() + (e.content ? e.content->size() : 0) + sizeof(Entry);
  }

  // Records an answer read when the generation was `gen`; a change made
  // since (a write or delete that raced the read) discards it.
  template <typename Fill>
  void Keep(const std::string& path, uint64_t gen, Fill fill) {
    std::lock_guard<std::mutex> l(mu_);
    if (gen != generation_) return;
    auto [it, fresh] = entries_.try_emplace(path);
    if (!fresh) bytes_ -= Cost(it->first, it->second);
    if (fresh || it->second.expires <= Clock::now()) it->second = Entry{};
    it->second.expires = Clock::now() + std::chrono::milliseconds(o_.ttl_ms);
    fill(it->second);
    bytes_ += Cost(it->first, it->second);
    if (bytes_ > o_.max_total_bytes) Trim();
  }

  // REQUIRES: mu_ held.
  void Trim() {
    Clock::time_point now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (it->second.expires <= now) Forget(it);
      it = next;
    }
    if (bytes_ > o_.max_total_bytes) {
      entries_.clear();
      bytes_ = 0;
    }
  }

  // Drops `path` (and, for a directory, everything below it).
  void Drop(const std::string& path, bool tree = false) {
    if (!Cacheable(path)) return;  // nothing below it is kept either
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    if (auto it = entries_.find(path); it != entries_.end()) Forget(it);
    if (!tree) return;
    std::string prefix = path + "/";
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (it->first.compare(0, prefix.size(), prefix) == 0) Forget(it);
      it = next;
    }
  }

  const CacheOptions o_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  size_t bytes_ = 0;
  uint64_t generation_ = 0;  // bumped by every change made through this driver
};

}  // namespace

std::unique_ptr<StorageDriver> NewCachingDriver(std::unique_ptr<StorageDriver> inner,
                                                CacheOptions options) {
  if (options.ttl_ms <= 0) return inner;
  return std::make_unique<CachingDriver>(std::move(inner), options);
}

}  // namespace hoist::storage
