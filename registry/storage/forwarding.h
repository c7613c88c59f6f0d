// A driver that passes every call to another: the base of the drivers that
// sit in front of a store (cache.h, blob_cache.h) and change only some calls.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "registry/storage/driver.h"

namespace hoist::storage {

class ForwardingDriver : public StorageDriver {
 public:
  explicit ForwardingDriver(std::unique_ptr<StorageDriver> inner) : inner_(std::move(inner)) {}

  std::string Name() const override { return inner_->Name(); }
  Result<std::string> GetContent(const std::string& path) override {
    return inner_->GetContent(path);
  }
  Status PutContent(const std::string& path, std::string_view content) override {
    return inner_->PutContent(path, content);
  }
  Result<std::unique_ptr<FileReader>> Reader(const std::string& path, int64_t offset) override {
    return inner_->Reader(path, offset);
  }
  Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) override {
    return inner_->Writer(path, append);
  }
  Result<FileInfo> Stat(const std::string& path) override { return inner_->Stat(path); }
  Result<std::vector<std::string>> List(const std::string& path) override {
    return inner_->List(path);
  }
  Status Move(const std::string& from, const std::string& to) override {
    return inner_->Move(from, to);
  }
  Status Delete(const std::string& path) override { return inner_->Delete(path); }
  Status Walk(const std::string& path,
              const std::function<WalkAction(const FileInfo&)>& fn) override {
    return inner_->Walk(path, fn);
  }

 protected:
  std::unique_ptr<StorageDriver> inner_;
};

}  // namespace hoist::storage
