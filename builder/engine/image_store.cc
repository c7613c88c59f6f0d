#include "builder/engine/image_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "builder/engine/paths.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/verify.h"
#include "common/media_types.h"

namespace hoist::engine {
namespace {

using nlohmann::json;
using transfer::Descriptor;
using transfer::Manifest;

constexpr size_t kMaxIndexBytes = size_t{64} << 20;

json DescriptorJson(const Descriptor& d) {
  return json{{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
}

Result<Descriptor> ParseDescriptor(const json& j) {
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string()) {
    return Status(Code::kInvalidArgument, "bad descriptor in images.json");
  }
  Result<Digest> d = Digest::Parse(j["digest"].get<std::string>());
  if (!d.ok()) return d.status();
  Descriptor out;
  out.digest = *d;
  out.media_type = j.value("mediaType", "");
  out.size = j.value("size", int64_t{0});
  return out;
}

Result<ImageIndexContents> ReadIndex(const std::string& path) {
  ImageIndexContents out;
  Result<std::string> text = transfer::ReadSmallFile(path, kMaxIndexBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return out;
    return text.status();
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("images") || !j["images"].is_object()) {
    return Status(Code::kInvalidArgument, path + " is not an image index");
  }
  for (auto it = j["images"].begin(); it != j["images"].end(); ++it) {
    Result<Descriptor> d = ParseDescriptor(*it);
    if (!d.ok())
      return Status(d.status().code(), path + ": " + it.key() + ": " + d.status().message());
    out.names.emplace(it.key(), *d);
  }
  if (j.contains("untagged") && j["untagged"].is_array()) {
    for (const json& e : j["untagged"]) {
      Result<Descriptor> d = ParseDescriptor(e);
      if (!d.ok()) return Status(d.status().code(), path + ": untagged: " + d.status().message());
      out.untagged.emplace(d->digest.str(), *d);
    }
  }
  if (j.contains("repoDigests") && j["repoDigests"].is_object()) {
    for (auto it = j["repoDigests"].begin(); it != j["repoDigests"].end(); ++it) {
      if (!it->is_array()) continue;
      for (const json& r : *it) {
        if (r.is_string()) out.repo_digests[it.key()].insert(r.get<std::string>());
      }
    }
  }
  return out;
}

Status WriteIndex(const std::string& path, const ImageIndexContents& c) {
  json names = json::object();
  for (const auto& [n, d] : c.names) names[n] = DescriptorJson(d);
  json out = {{"images", names}};
  if (!c.untagged.empty()) {
    json untagged = json::array();
    for (const auto& [digest, d] : c.untagged) untagged.push_back(DescriptorJson(d));
    out["untagged"] = untagged;
  }
  if (!c.repo_digests.empty()) {
    json rd = json::object();
    for (const auto& [digest, refs] : c.repo_digests) rd[digest] = refs;
    out["repoDigests"] = rd;
  }
  return transfer::WriteFileAtomic(path, out.dump(2) + "\n");
}

// An exclusive flock on a lock file, released on destruction.
class FileLock {
 public:
  static Result<std::unique_ptr<FileLock>> Acquire(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("open", path);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        Status st = ErrnoStatus("flock", path);
        ::close(fd);
        return st;
      }
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

bool IsManifest(const std::string& media_type) {
  return media::IsManifestType(media_type);
}

}  // namespace

Status ImageIndex::Tag(const std::string& name, const Descriptor& manifest) {
  return Update([&](ImageIndexContents& c) {
    c.names[name] = manifest;
    return Status::Ok();
  });
}

Result<ImageIndexContents> ImageIndex::Read() const {
  return ReadIndex(paths::Images(root_));
}

Status ImageIndex::Update(const std::function<Status(ImageIndexContents&)>& change) {
  Result<std::unique_ptr<FileLock>> lock = FileLock::Acquire(paths::ImagesLock(root_));
  if (!lock.ok()) return lock.status();
  Result<ImageIndexContents> c = ReadIndex(paths::Images(root_));
  if (!c.ok()) return c.status();
  HOIST_RETURN_IF_ERROR(change(*c));
  return WriteIndex(paths::Images(root_), *c);
}

Result<std::map<std::string, Descriptor>> ImageIndex::List() const {
  Result<ImageIndexContents> c = Read();
  if (!c.ok()) return c.status();
  return std::move(c->names);
}

Result<Descriptor> ImageIndex::Lookup(const std::string& name) const {
  Result<std::map<std::string, Descriptor>> images = List();
  if (!images.ok()) return images.status();
  auto it = images->find(name);
  if (it == images->end()) {
    return Status(Code::kNotFound, "no image named " + name + " in the local store");
  }
  return it->second;
}

Result<std::unique_ptr<ByteSource>> StoreImageSource::OpenBlob(const Descriptor& d) {
  Result<std::unique_ptr<store::FileSource>> f = store_.Open(d.digest);
  if (!f.ok()) return f.status();
  return std::unique_ptr<ByteSource>(std::move(*f));
}

Result<Manifest> StoreImageSource::ReadManifest(const Descriptor& d) {
  Result<std::string> bytes = ReadSmallBlob(store_, d.digest);
  if (!bytes.ok()) return bytes.status();
  return transfer::MakeManifest(d.media_type, std::move(*bytes));
}

Result<bool> StoreImageSink::HasManifest(const Descriptor& d) {
  return HasImageWhole(store_, d);
}

Status StoreImageSink::PutBlob(const Descriptor& d, const transfer::BlobOpener& open) {
  if (store_.Has(d.digest)) return Status::Ok();
  Result<std::unique_ptr<ByteSource>> src = open();
  if (!src.ok()) return src.status();
  return store_.Ingest(**src, d.digest, d.size);
}

Status StoreImageSink::PutManifest(const Manifest& m, bool) {
  StringSource src(m.bytes);
  return store_.Ingest(src, m.digest, static_cast<int64_t>(m.bytes.size()));
}

Result<Descriptor> PutSmallBlob(store::ContentStore& store, std::string media_type,
                                const std::string& bytes) {
  Descriptor d;
  d.media_type = std::move(media_type);
  d.digest = DigestOf(bytes);
  d.size = static_cast<int64_t>(bytes.size());
  StringSource src(bytes);
  HOIST_RETURN_IF_ERROR(store.Ingest(src, d.digest, d.size));
  return d;
}

Result<std::string> ReadSmallBlob(const store::ContentStore& store, const Digest& d, size_t limit) {
  Result<std::unique_ptr<store::FileSource>> f = store.Open(d);
  if (!f.ok()) return f.status();
  Result<std::string> bytes = transfer::ReadAllLimited(**f, limit);
  if (!bytes.ok()) return bytes.status();
  if (!(DigestOf(*bytes) == d)) {
    return Status(Code::kDigestInvalid, "stored blob " + d.str() + " no longer matches its digest");
  }
  return bytes;
}

bool HasImageWhole(const store::ContentStore& store, const Descriptor& d) {
  if (!store.Has(d.digest)) return false;
  if (!IsManifest(d.media_type)) return true;
  Result<std::string> bytes = ReadSmallBlob(store, d.digest);
  if (!bytes.ok()) return false;
  Result<Manifest> m = transfer::MakeManifest(d.media_type, std::move(*bytes));
  if (!m.ok()) return false;
  Result<transfer::ManifestContents> c = transfer::ParseManifest(*m);
  if (!c.ok()) return false;
  if (c->config && !store.Has(c->config->digest)) return false;
  for (const Descriptor& l : c->layers) {
    if (!l.foreign && !store.Has(l.digest)) return false;
  }
  for (const Descriptor& child : c->children) {
    if (!HasImageWhole(store, child)) return false;
  }
  return true;
}

}  // namespace hoist::engine
