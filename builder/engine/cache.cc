#include "builder/engine/cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "builder/engine/image_store.h"
#include "builder/engine/paths.h"
#include "builder/store/file_io.h"
#include "builder/transfer/image.h"
#include "builder/transfer/layout.h"
#include "common/media_types.h"

namespace hoist::engine {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxRecordBytes = 1 << 20;
constexpr uint64_t kDefaultCacheMax = uint64_t{10} << 30;

json RecordJson(const CacheRecord& r) {
  json j = {{"key", r.key.str()}, {"kind", r.kind}, {"description", r.description}};
  if (r.layer) {
    j["layer"] = {{"mediaType", r.layer->media_type},
                  {"digest", r.layer->digest.str()},
                  {"size", r.layer->size},
                  {"diffID", r.layer->diff_id.str()}};
  } else {
    j["layer"] = nullptr;
  }
  if (r.manifest) {
    j["manifest"] = {{"mediaType", r.manifest_media_type}, {"digest", r.manifest->str()}};
  }
  json blobs = json::array();
  for (const Digest& d : r.blobs) blobs.push_back(d.str());
  j["blobs"] = blobs;
  return j;
}

Result<Digest> DigestField(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
    return Status(Code::kInvalidArgument, std::string("cache record lacks ") + key);
  }
  return Digest::Parse(j[key].get<std::string>());
}

Result<CacheRecord> ParseRecord(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status(Code::kInvalidArgument, "cache record is not JSON");
  CacheRecord r;
  Result<Digest> key = DigestField(j, "key");
  if (!key.ok()) return key.status();
  r.key = *key;
  r.kind = j.value("kind", "step");
  r.description = j.value("description", "");
  if (j.contains("layer") && j["layer"].is_object()) {
    const json& l = j["layer"];
    LayerRef ref;
    Result<Digest> d = DigestField(l, "digest");
    Result<Digest> diff = DigestField(l, "diffID");
    if (!d.ok()) return d.status();
    if (!diff.ok()) return diff.status();
    ref.digest = *d;
    ref.diff_id = *diff;
    ref.media_type = l.value("mediaType", "");
    ref.size = l.value("size", int64_t{0});
    r.layer = ref;
  }
  if (j.contains("manifest") && j["manifest"].is_object()) {
    Result<Digest> m = DigestField(j["manifest"], "digest");
    if (!m.ok()) return m.status();
    r.manifest = *m;
    r.manifest_media_type = j["manifest"].value("mediaType", "");
  }
  if (j.contains("blobs") && j["blobs"].is_array()) {
    for (const json& b : j["blobs"]) {
      if (!b.is_string()) continue;
      Result<Digest> d = Digest::Parse(b.get<std::string>());
      if (!d.ok()) return d.status();
      r.blobs.push_back(*d);
    }
  }
  return r;
}

int64_t MtimeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
}

void Touch(const std::string& path) {
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(),
                                       [](char c) { return std::isxdigit(c) && !std::isupper(c); });
}

// Every blob an image (manifest or index) in the store references,
// itself included; missing pieces are skipped.
void WalkImage(const store::ContentStore& store, const transfer::Descriptor& d,
               std::set<std::string>* out, int depth = 0) {
  out->insert(d.digest.str());
  if (depth > 4 || !media::IsManifestType(d.media_type)) return;
  Result<std::string> bytes = ReadSmallBlob(store, d.digest);
  if (!bytes.ok()) return;
  Result<transfer::Manifest> m = transfer::MakeManifest(d.media_type, std::move(*bytes));
  if (!m.ok()) return;
  Result<transfer::ManifestContents> c = transfer::ParseManifest(*m);
  if (!c.ok()) return;
  if (c->config) out->insert(c->config->digest.str());
  for (const transfer::Descriptor& l : c->layers) out->insert(l.digest.str());
  for (const transfer::Descriptor& child : c->children) WalkImage(store, child, out, depth + 1);
}

struct Entry {
  enum Kind { kRecord, kRootfs } kind = kRecord;
  std::string path;  // record file or rootfs directory
  int64_t last_use = 0;
  uint64_t bytes = 0;  // rootfs: the extraction's own bytes
  std::vector<std::string> blobs;
};

uint64_t RootfsBytes(const std::string& dir) {
  Result<std::string> meta = transfer::ReadSmallFile(dir + ".json", 1 << 20);
  if (!meta.ok()) return 0;
  json j = json::parse(*meta, nullptr, false);
  return j.is_object() ? j.value("bytes", uint64_t{0}) : 0;
}

}  // namespace

CacheKeyBuilder::CacheKeyBuilder(std::string_view kind) {
  buf_ = "hoist-build-cache/v1 ";
  buf_.append(kind);
  buf_ += '\n';
}

CacheKeyBuilder& CacheKeyBuilder::Add(std::string_view name, std::string_view value) {
  buf_.append(name);
  buf_ += '=';
  buf_ += std::to_string(value.size());
  buf_ += ':';
  buf_.append(value);
  buf_ += '\n';
  return *this;
}

std::optional<CacheRecord> BuildCache::Lookup(const Digest& key) {
  std::string path = paths::CacheRecord(store_.root(), key);
  Result<std::string> text = transfer::ReadSmallFile(path, kMaxRecordBytes);
  if (!text.ok()) return std::nullopt;
  Result<CacheRecord> r = ParseRecord(*text);
  if (!r.ok() || !(r->key == key)) return std::nullopt;
  for (const Digest& b : r->blobs) {
    if (!store_.Has(b)) return std::nullopt;
  }
  Touch(path);
  return std::move(*r);
}

Status BuildCache::Put(const CacheRecord& record) {
  std::string path = paths::CacheRecord(store_.root(), record.key);
  std::string text = RecordJson(record).dump() + "\n";
  // A warm build puts the records it has just looked up: the same bytes
  // are only touched (Prune's age), not written again (a new file each
  // time, and inode creation is the slow part of some filesystems).
  if (Result<std::string> old = transfer::ReadSmallFile(path, kMaxRecordBytes);
      old.ok() && *old == text) {
    Touch(path);
    return Status::Ok();
  }
  HOIST_RETURN_IF_ERROR(store::MakeDirs(paths::CacheDir(store_.root())));
  return transfer::WriteFileAtomic(path, text);
}

Result<PruneReport> Prune(store::ContentStore& store, const PruneOptions& o) {
  PruneReport report;
  const std::string& root = store.root();
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto old_enough = [&](int64_t mtime) { return now - mtime >= o.min_age_sec; };

  // Blobs the local images need: never removed.
  std::set<std::string> pinned;
  Result<ImageIndexContents> images = ImageIndex(root).Read();
  if (!images.ok()) return images.status();
  for (const auto& [name, d] : images->names) WalkImage(store, d, &pinned);
  for (const auto& [digest, d] : images->untagged) WalkImage(store, d, &pinned);

  std::vector<Entry> entries;
  std::string cache_dir = paths::CacheDir(root);
  for (const std::string& n : ListDir(cache_dir)) {
    if (n.size() != 69 || n.substr(64) != ".json" || !IsHex64(n.substr(0, 64))) continue;
    Entry e;
    e.kind = Entry::kRecord;
    e.path = cache_dir + "/" + n;
    e.last_use = MtimeOf(e.path);
    Result<std::string> text = transfer::ReadSmallFile(e.path, kMaxRecordBytes);
    Result<CacheRecord> r = text.ok() ? ParseRecord(*text) : Result<CacheRecord>(text.status());
    if (r.ok()) {
      for (const Digest& b : r->blobs) e.blobs.push_back(b.str());
    }
    entries.push_back(std::move(e));
  }
  std::string rootfs_dir = paths::RootfsDir(root);
  for (const std::string& n : ListDir(rootfs_dir)) {
    std::string p = rootfs_dir + "/" + n;
    if (IsHex64(n)) {
      Entry e;
      e.kind = Entry::kRootfs;
      e.path = p;
      e.last_use = MtimeOf(p);
      e.bytes = RootfsBytes(p);
      entries.push_back(std::move(e));
    } else if (n.rfind(".tmp-", 0) == 0 && old_enough(MtimeOf(p)) && o.min_age_sec > 0) {
      HOIST_RETURN_IF_ERROR(store::RemoveTree(p));  // an extraction whose builder died
    } else if (n.size() > 64 && IsHex64(n.substr(0, 64)) &&
               (n.substr(64) == ".json" || n.substr(64) == paths::kRootfsDigestsSuffix)) {
      struct stat st;  // what an extraction left beside it, once it is gone
      if (::stat((rootfs_dir + "/" + n.substr(0, 64)).c_str(), &st) != 0) ::unlink(p.c_str());
    }
  }

  // Blob sizes and reference counts.
  std::map<std::string, std::pair<uint64_t, int64_t>> blobs;  // digest -> (size, mtime)
  std::string blob_dir =
      store.Path(Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0')));
  blob_dir = blob_dir.substr(0, blob_dir.rfind('/'));
  uint64_t total = 0;
  for (const std::string& n : ListDir(blob_dir)) {
    if (!IsHex64(n)) continue;
    struct stat st;
    if (::stat((blob_dir + "/" + n).c_str(), &st) != 0) continue;
    blobs["sha256:" + n] = {static_cast<uint64_t>(st.st_size), st.st_mtime};
    total += static_cast<uint64_t>(st.st_size);
  }
  std::map<std::string, int> refs;
  for (const Entry& e : entries) {
    total += e.bytes;
    for (const std::string& b : e.blobs) ++refs[b];
  }

  auto delete_blob = [&](const std::string& digest) -> Status {
    auto it = blobs.find(digest);
    if (it == blobs.end() || pinned.count(digest) || refs[digest] > 0) return Status::Ok();
    if (!old_enough(it->second.second)) return Status::Ok();
    Result<Digest> d = Digest::Parse(digest);
    if (!d.ok()) return Status::Ok();
    HOIST_RETURN_IF_ERROR(store.Delete(*d));
    ++report.blobs_removed;
    report.bytes_freed += it->second.first;
    total -= it->second.first;
    blobs.erase(it);
    return Status::Ok();
  };
  auto evict = [&](const Entry& e) -> Status {
    if (e.kind == Entry::kRecord) {
      if (::unlink(e.path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", e.path);
      ++report.records_removed;
      for (const std::string& b : e.blobs) {
        --refs[b];
        HOIST_RETURN_IF_ERROR(delete_blob(b));
      }
    } else {
      HOIST_RETURN_IF_ERROR(store::RemoveTree(e.path));
      ::unlink((e.path + ".json").c_str());
      ::unlink((e.path + paths::kRootfsDigestsSuffix).c_str());
      ++report.rootfs_removed;
      report.bytes_freed += e.bytes;
      total -= e.bytes;
    }
    return Status::Ok();
  };

  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
  for (const Entry& e : entries) {
    bool over = o.keep_bytes && total > *o.keep_bytes;
    if (!(o.all || over) || !old_enough(e.last_use)) continue;
    HOIST_RETURN_IF_ERROR(evict(e));
  }
  // Blobs nothing references any more (pulled or built by builds whose
  // records are gone, or left by failed builds).
  std::vector<std::string> all;
  for (const auto& [d, info] : blobs) all.push_back(d);
  for (const std::string& d : all) HOIST_RETURN_IF_ERROR(delete_blob(d));
  if (o.all) {
    for (const std::string& n : ListDir(root + "/context")) {
      std::string p = root + "/context/" + n;
      if (old_enough(MtimeOf(p))) ::unlink(p.c_str());
    }
    // RUN --mount=type=cache directories (not while a step holds one locked).
    std::string run_cache = paths::RunCacheDir(root);
    for (const std::string& n : ListDir(run_cache)) {
      if (!IsHex64(n)) continue;
      std::string p = run_cache + "/" + n;
      store::UniqueFd lock(::open((p + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      if (lock.valid() && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;
      HOIST_RETURN_IF_ERROR(store::RemoveTree(p));
      ++report.run_caches_removed;
    }
  }
  HOIST_RETURN_IF_ERROR(
      store.RemoveStaleTemp(std::chrono::seconds(std::max<int64_t>(o.min_age_sec, 3600))));
  report.bytes_kept = total;
  return report;
}

Result<uint64_t> ParseSize(std::string_view s) {
  std::string t;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) t += static_cast<char>(std::tolower(c));
  }
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  std::string num = t.substr(0, i), unit = t.substr(i);
  if (num.empty() || std::count(num.begin(), num.end(), '.') > 1) {
    return Status(Code::kInvalidArgument, "invalid size " + std::string(s));
  }
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "ib") unit.resize(unit.size() - 2);
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  double mult = 1;
  if (unit == "k") {
    mult = 1024.0;
  } else if (unit == "m") {
    mult = 1024.0 * 1024;
  } else if (unit == "g") {
    mult = 1024.0 * 1024 * 1024;
  } else if (unit == "t") {
    mult = 1024.0 * 1024 * 1024 * 1024;
  } else if (!unit.empty()) {
    return Status(Code::kInvalidArgument, "invalid size " + std::string(s) + ": unknown unit");
  }
  return static_cast<uint64_t>(std::strtod(num.c_str(), nullptr) * mult);
}

Result<uint64_t> CacheMaxBytes() {
  const char* v = std::getenv("HOIST_CACHE_MAX");
  if (v == nullptr || *v == '\0') return kDefaultCacheMax;
  Result<uint64_t> n = ParseSize(v);
  if (!n.ok()) return Status(Code::kInvalidArgument, "HOIST_CACHE_MAX: " + n.status().message());
  return n;
}

}  // namespace hoist::engine
