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
  int64_t recorded = Touch(digest);  // a client that HEADs a blob may reference it next
  Result<std::string> link = d_.GetContent(paths::LayerLink(repo, digest));
  Result<int64_t> size = link.ok() ? StatData(digest)
                         : link.status().code() == Code::kNotFound
                             ? Result<int64_t>(Unknown(digest))
                             : Result<int64_t>(link.status());
  // Absent: nothing to keep, and no entry for every digest a client
  // makes up (the map would grow without bound).
  if (recorded && !size.ok() && size.status().code() == Code::kBlobUnknown) {
    Forget(digest, recorded);
  }
  return size;
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

int64_t BlobStore::Touch(const Digest& digest) {
  if (!tracking_) return 0;
  std::string key = digest.str();
  std::lock_guard<std::mutex> l(use_mu_);
  auto [it, inserted] = uses_.try_emplace(std::move(key));
  it->second.last = Now();
  return inserted ? it->second.last : 0;
}

void BlobStore::Forget(const Digest& digest, int64_t stamp) {
  std::lock_guard<std::mutex> l(use_mu_);
  auto it = uses_.find(digest.str());
  // Only the entry this request made, untouched since (a concurrent upload
  // of the same blob may have recorded its own use meanwhile).
  if (it != uses_.end() && it->second.pins == 0 && it->second.last == stamp) uses_.erase(it);
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
