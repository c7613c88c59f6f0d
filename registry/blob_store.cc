#include "registry/blob_store.h"

#include <chrono>

#include "registry/storage/paths.h"

namespace hoist::registry {

namespace paths = storage::paths;

namespace {
Status Unknown(const Digest& digest) {
  return Status(Code::kBlobUnknown, "blob unknown: " + digest.str(),
                "{\"digest\":\"" + digest.str() + "\"}");
}
}  // namespace

Result<int64_t> BlobStore::StatData(const Digest& digest) {
  Result<storage::FileInfo> fi = d_.Stat(paths::BlobData(digest));
  if (!fi.ok()) {
    if (fi.status().code() == Code::kNotFound) return Unknown(digest);
    return fi.status();
  }
  if (fi->is_dir) return Unknown(digest);
  return fi->size;
}

Result<int64_t> BlobStore::Stat(std::string_view repo, const Digest& digest) {
  Touch(digest);  // a client that HEADs a blob may reference it next
  Result<std::string> link = d_.GetContent(paths::LayerLink(repo, digest));
  if (!link.ok()) {
    if (link.status().code() == Code::kNotFound) return Unknown(digest);
    return link.status();
  }
  return StatData(digest);
}

Result<std::unique_ptr<storage::FileReader>> BlobStore::Open(std::string_view repo,
                                                             const Digest& digest, int64_t offset) {
  Result<std::string> link = d_.GetContent(paths::LayerLink(repo, digest));
  if (!link.ok()) {
    if (link.status().code() == Code::kNotFound) return Unknown(digest);
    return link.status();
  }
  auto r = d_.Reader(paths::BlobData(digest), offset);
  if (!r.ok() && r.status().code() == Code::kNotFound) return Unknown(digest);
  return r;
}

Status BlobStore::Link(std::string_view repo, const Digest& digest) {
  return d_.PutContent(paths::LayerLink(repo, digest), digest.str());
}

Status BlobStore::Unlink(std::string_view repo, const Digest& digest) {
  std::string link = paths::LayerLink(repo, digest);
  Status st = d_.Delete(link.substr(0, link.rfind('/')));
  if (st.code() == Code::kNotFound) return Unknown(digest);
  return st;
}

Status BlobStore::PutSmall(const Digest& digest, std::string_view content) {
  if (StatData(digest).ok()) return Status::Ok();
  return d_.PutContent(paths::BlobData(digest), content);
}

Result<std::string> BlobStore::GetSmall(const Digest& digest) {
  Result<std::string> c = d_.GetContent(paths::BlobData(digest));
  if (!c.ok() && c.status().code() == Code::kNotFound) return Unknown(digest);
  return c;
}

Status BlobStore::Adopt(const std::string& data_path, const Digest& digest) {
  if (StatData(digest).ok()) {
    (void)d_.Delete(data_path);
    return Status::Ok();
  }
  return d_.Move(data_path, paths::BlobData(digest));
}

int64_t BlobStore::Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void BlobStore::Pin(const std::string& key) {
  std::lock_guard<std::mutex> l(use_mu_);
  UseEntry& e = uses_[key];
  ++e.pins;
  e.last = Now();
}

void BlobStore::Unpin(const std::string& key) {
  std::lock_guard<std::mutex> l(use_mu_);
  UseEntry& e = uses_[key];
  if (e.pins > 0) --e.pins;
  e.last = Now();
}

void BlobStore::Touch(const Digest& digest) {
  if (!tracking_) return;
  std::string key = digest.str();
  std::lock_guard<std::mutex> l(use_mu_);
  uses_[key].last = Now();
}

void BlobStore::Use::Add(const Digest& digest) {
  if (!store_.tracking_) return;
  held_.push_back(digest.str());
  store_.Pin(held_.back());
}

BlobStore::Use::~Use() {
  for (const std::string& key : held_) store_.Unpin(key);
}

Result<bool> BlobStore::RemoveIfUnused(const std::string& key, int64_t since,
                                       const std::function<Status()>& remove) {
  std::lock_guard<std::mutex> l(use_mu_);
  auto it = uses_.find(key);
  if (it != uses_.end()) {
    if (it->second.pins > 0 || it->second.last >= since) return false;
    uses_.erase(it);
  }
  Status st = remove();
  if (!st.ok()) return st;
  return true;
}

void BlobStore::ForgetUsesBefore(int64_t since) {
  std::lock_guard<std::mutex> l(use_mu_);
  std::erase_if(uses_,
                [since](const auto& kv) { return kv.second.pins == 0 && kv.second.last < since; });
}

}  // namespace hoist::registry
