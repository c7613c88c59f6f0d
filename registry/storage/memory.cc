// In-memory StorageDriver for tests: files in a map, directories implied by
// the paths of the files below them.
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "registry/storage/driver.h"

namespace hoist::storage {
namespace {

struct Store {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<std::string>> files;  // path -> bytes
};

class MemReader : public FileReader {
 public:
  MemReader(std::shared_ptr<const std::string> data, size_t off) : data_(std::move(data)), off_(off) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, data_->size() - off_);
    std::copy_n(data_->data() + off_, k, buf);
    off_ += k;
    return k;
  }

 private:
  std::shared_ptr<const std::string> data_;
  size_t off_;
};

class MemWriter : public FileWriter {
 public:
  MemWriter(std::shared_ptr<Store> s, std::string path, std::shared_ptr<std::string> data)
      : s_(std::move(s)), path_(std::move(path)), data_(std::move(data)) {}
  Status Write(const char* d, size_t n) override {
    std::lock_guard<std::mutex> l(s_->mu);
    data_->append(d, n);
    return Status::Ok();
  }
  int64_t Size() const override {
    std::lock_guard<std::mutex> l(s_->mu);
    return static_cast<int64_t>(data_->size());
  }
  Status Commit() override { return Status::Ok(); }
  void Cancel() override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(path_);
    if (it != s_->files.end() && it->second == data_) s_->files.erase(it);
  }

 private:
  std::shared_ptr<Store> s_;
  std::string path_;
  std::shared_ptr<std::string> data_;
};

class MemoryDriver : public StorageDriver {
 public:
  std::string Name() const override { return "inmemory"; }

  Result<std::string> GetContent(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(path);
    if (it == s_->files.end()) return NotFound(path);
    return *it->second;
  }
  Status PutContent(const std::string& path, std::string_view content) override {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->files[path] = std::make_shared<std::string>(content);
    return Status::Ok();
  }
  Result<std::unique_ptr<FileReader>> Reader(const std::string& path, int64_t offset) override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(path);
    if (it == s_->files.end()) return NotFound(path);
    if (offset < 0 || static_cast<size_t>(offset) > it->second->size()) {
      return Status(Code::kRangeInvalid, "offset beyond the end of " + path);
    }
    // Snapshot: a reader sees the content as it was when opened.
    auto snap = std::make_shared<const std::string>(*it->second);
    return std::unique_ptr<FileReader>(new MemReader(snap, static_cast<size_t>(offset)));
  }
  Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto& slot = s_->files[path];
    if (!slot || !append) slot = std::make_shared<std::string>();
    return std::unique_ptr<FileWriter>(new MemWriter(s_, path, slot));
  }
  Result<FileInfo> Stat(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(path);
    if (it != s_->files.end()) return FileInfo{path, static_cast<int64_t>(it->second->size()), false, 0};
    std::string prefix = path == "/" ? "/" : path + "/";
    auto below = s_->files.lower_bound(prefix);
    if (below != s_->files.end() && below->first.compare(0, prefix.size(), prefix) == 0) {
      return FileInfo{path, 0, true, 0};
    }
    return NotFound(path);
  }
  Result<std::vector<std::string>> List(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    std::string prefix = path == "/" ? "/" : path + "/";
    std::set<std::string> children;
    for (auto it = s_->files.lower_bound(prefix);
         it != s_->files.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      size_t end = it->first.find('/', prefix.size());
      children.insert(it->first.substr(0, end));
    }
    if (children.empty()) return NotFound(path);
    return std::vector<std::string>(children.begin(), children.end());
  }
  Status Move(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> l(s_->mu);
    auto it = s_->files.find(from);
    if (it != s_->files.end()) {
      s_->files[to] = it->second;
      s_->files.erase(from);
      return Status::Ok();
    }
    std::string prefix = from + "/";
    std::vector<std::pair<std::string, std::shared_ptr<std::string>>> moved;
    for (auto i = s_->files.lower_bound(prefix);
         i != s_->files.end() && i->first.compare(0, prefix.size(), prefix) == 0;) {
      moved.emplace_back(to + i->first.substr(from.size()), i->second);
      i = s_->files.erase(i);
    }
    if (moved.empty()) return NotFound(from);
    // Replace `to` whole: drop what was there before.
    s_->files.erase(to);
    std::string to_prefix = to + "/";
    for (auto i = s_->files.lower_bound(to_prefix);
         i != s_->files.end() && i->first.compare(0, to_prefix.size(), to_prefix) == 0;) {
      i = s_->files.erase(i);
    }
    for (auto& [p, d] : moved) s_->files[p] = d;
    return Status::Ok();
  }
  Status Delete(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    size_t n = s_->files.erase(path);
    std::string prefix = path + "/";
    for (auto i = s_->files.lower_bound(prefix);
         i != s_->files.end() && i->first.compare(0, prefix.size(), prefix) == 0;) {
      i = s_->files.erase(i);
      ++n;
    }
    if (n == 0) return NotFound(path);
    return Status::Ok();
  }

 private:
  static Status NotFound(const std::string& path) {
    return Status(Code::kNotFound, path + ": not found");
  }
  std::shared_ptr<Store> s_ = std::make_shared<Store>();
};

}  // namespace

std::unique_ptr<StorageDriver> NewMemoryDriver() { return std::make_unique<MemoryDriver>(); }

}  // namespace hoist::storage
