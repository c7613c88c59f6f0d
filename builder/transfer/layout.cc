#include "builder/transfer/layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "builder/store/file_io.h"
#include "builder/transfer/verify.h"
#include "common/media_types.h"

namespace hoist::transfer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxIndexBytes = 64 << 20;
constexpr size_t kMaxManifestBytes = 8 << 20;

std::string ParentDir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Writes the stream to a temporary file beside `path`, then renames it
// into place; on any error the temporary file is removed.
// Everything `src` gives, written to `fd` (`name` for errors).
Status CopyToFd(ByteSource& src, int fd, const std::string& name) {
  std::vector<char> buf(1 << 20);
  while (true) {
    Result<size_t> got = src.Read(buf.data(), buf.size());
    if (!got.ok()) return got.status();
    if (*got == 0) return Status::Ok();
    HOIST_RETURN_IF_ERROR(store::WriteAll(fd, buf.data(), *got, name));
  }
}

Status WriteStreamAtomic(const std::string& path, ByteSource& src) {
  // A device, FIFO or socket (-o /dev/null, /dev/stdout) is written as it
  // is: renaming over it would replace the device node with a file.
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode) &&
      !S_ISDIR(existing.st_mode)) {
    const int out = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (out < 0) return ErrnoStatus("open", path);
    Status st = CopyToFd(src, out, path);
    ::close(out);
    return st;
  }
  std::string tmp = ParentDir(path) + "/.tmp-" + path.substr(path.rfind('/') + 1, 16) + "-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("create", tmp);
  Status st = CopyToFd(src, fd, tmp);
  if (st.ok() && ::fdatasync(fd) != 0) st = ErrnoStatus("fsync", tmp);
  ::fchmod(fd, 0644);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus("rename", path);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

std::string RefName(const json& entry) {
  if (entry.contains("annotations") && entry["annotations"].is_object()) {
    const json& a = entry["annotations"];
    auto it = a.find(std::string(kRefNameAnnotation));
    if (it != a.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

}  // namespace

std::string LayoutBlobPath(const std::string& dir, const Digest& d) {
  return dir + "/blobs/" + std::string(d.algorithm_name()) + "/" + d.hex();
}

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  StringSource src(content);
  return WriteStreamAtomic(path, src);
}

Result<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path);
  store::FileSource src(store::UniqueFd(fd), path);
  Result<std::string> s = ReadAllLimited(src, limit);
  if (!s.ok()) return Status(s.status().code(), path + ": " + s.status().message());
  return s;
}

// --- LayoutSource ---------------------------------------------------------

Result<std::unique_ptr<LayoutSource>> LayoutSource::Open(const std::string& dir,
                                                         const std::string& tag, std::string name) {
  Result<std::string> text = ReadSmallFile(dir + "/index.json", kMaxIndexBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound,
                    name + ": " + dir + " is not an OCI image layout (no index.json)");
    }
    return text.status();
  }
  json index = json::parse(*text, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return Status(Code::kManifestInvalid, name + ": malformed " + dir + "/index.json");
  }
  std::string tags;
  const json* chosen = nullptr;
  for (const json& e : index["manifests"]) {
    std::string ref = RefName(e);
    if (!ref.empty()) tags += (tags.empty() ? "" : ", ") + ref;
    if (!tag.empty() && ref == tag) chosen = &e;
  }
  if (tag.empty() && index["manifests"].size() == 1) chosen = &index["manifests"][0];
  if (chosen == nullptr) {
    std::string why = tag.empty() ? "holds " + std::to_string(index["manifests"].size()) +
                                        " images; name one with :TAG"
                                  : "has no image tagged \"" + tag + "\"";
    return Status(Code::kManifestUnknown, name + ": " + dir + " " + why +
                                              " (tags: " + (tags.empty() ? "none" : tags) + ")");
  }
  Result<Digest> digest = Digest::Parse(chosen->value("digest", ""));
  if (!digest.ok()) return Status(Code::kManifestInvalid, name + ": " + digest.status().message());
  Descriptor top;
  top.media_type = chosen->value("mediaType", "");
  top.digest = *digest;
  top.size = chosen->value("size", int64_t{-1});
  return std::unique_ptr<LayoutSource>(new LayoutSource(dir, top, std::move(name)));
}

Result<Manifest> LayoutSource::ReadManifest(const Descriptor& d) {
  Result<std::string> bytes = ReadSmallFile(LayoutBlobPath(dir_, d.digest), kMaxManifestBytes);
  if (!bytes.ok()) {
    return Status(
        bytes.status().code() == Code::kNotFound ? Code::kManifestUnknown : bytes.status().code(),
        name_ + ": manifest " + d.digest.str() + ": " + bytes.status().message());
  }
  Digest actual = DigestOf(*bytes, d.digest.algorithm());
  if (!(actual == d.digest)) {
    return Status(Code::kDigestInvalid, name_ + ": manifest " + d.digest.str() +
                                            " has the wrong content (digest " + actual.str() + ")");
  }
  Result<Manifest> m = MakeManifest(d.media_type, std::move(*bytes));
  if (m.ok()) m->digest = d.digest;
  return m;
}

Result<Manifest> LayoutSource::TopManifest() {
  return ReadManifest(top_);
}

Result<Manifest> LayoutSource::ChildManifest(const Descriptor& d) {
  return ReadManifest(d);
}

Result<std::unique_ptr<ByteSource>> LayoutSource::OpenBlob(const Descriptor& d) {
  std::string path = LayoutBlobPath(dir_, d.digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Status st = ErrnoStatus("open", path);
    return Status(st.code() == Code::kNotFound ? Code::kBlobUnknown : st.code(),
                  name_ + ": blob " + d.digest.str() + ": " + st.message());
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<ByteSource>(new store::FileSource(store::UniqueFd(fd), path));
}

// --- LayoutSink -----------------------------------------------------------

Result<std::unique_ptr<LayoutSink>> LayoutSink::Open(const std::string& dir_in,
                                                     const std::string& tag, std::string name) {
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (IsDir(dir)) {
    bool layout = ::access((dir + "/oci-layout").c_str(), F_OK) == 0;
    std::error_code ec;
    bool empty = fs::is_empty(dir, ec);
    if (!layout && !empty) {
      return Status(Code::kInvalidArgument,
                    name + ": " + dir + " exists and is not an OCI image layout");
    }
    return std::unique_ptr<LayoutSink>(new LayoutSink(dir, dir, tag, std::move(name)));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    return Status(Code::kInvalidArgument, name + ": " + dir + " exists and is not a directory");
  }
  HOIST_RETURN_IF_ERROR(store::MakeDirs(ParentDir(dir)));
  std::string staging = dir + ".hoist-tmp-XXXXXX";
  if (::mkdtemp(staging.data()) == nullptr) return ErrnoStatus("mkdtemp", staging);
  return std::unique_ptr<LayoutSink>(new LayoutSink(dir, staging, tag, std::move(name)));
}

LayoutSink::~LayoutSink() {
  if (!committed_ && write_dir_ != dir_) {
    std::error_code ec;
    fs::remove_all(write_dir_, ec);
  }
}

Result<bool> LayoutSink::HasBlob(const Descriptor& d) {
  struct stat st {};
  for (const std::string& dir : {write_dir_, dir_}) {
    if (::stat(LayoutBlobPath(dir, d.digest).c_str(), &st) == 0 && st.st_size == d.size)
      return true;
  }
  return false;
}

Status LayoutSink::PutBlob(const Descriptor& d, const BlobOpener& open) {
  std::string path = LayoutBlobPath(write_dir_, d.digest);
  HOIST_RETURN_IF_ERROR(store::MakeDirs(ParentDir(path)));
  Result<std::unique_ptr<ByteSource>> src = open();
  if (!src.ok()) return src.status();
  Status st = WriteStreamAtomic(path, **src);
  if (!st.ok() && st.message().find(d.digest.str()) == std::string::npos) {
    return Status(st.code(),
                  "writing blob " + d.digest.str() + " to " + name_ + ": " + st.message());
  }
  return st;
}

Status LayoutSink::PutManifest(const Manifest& m, bool top) {
  Descriptor d = m.descriptor();
  Result<bool> has = HasBlob(d);
  if (!has.ok()) return has.status();
  if (!*has) {
    HOIST_RETURN_IF_ERROR(PutBlob(d, [&]() -> Result<std::unique_ptr<ByteSource>> {
      return std::unique_ptr<ByteSource>(
          new VerifyingReader(std::make_unique<StringSource>(m.bytes), d, "manifest"));
    }));
  }
  if (top) {
    std::lock_guard<std::mutex> lock(mu_);
    top_ = m;
  }
  return Status::Ok();
}

Status LayoutSink::Commit() {
  if (!top_) return Status(Code::kInternal, name_ + ": no image to commit");
  const std::string index_path = write_dir_ + "/index.json";
  json index = {
      {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", json::array()}};
  Result<std::string> old = ReadSmallFile(index_path, kMaxIndexBytes);
  if (old.ok()) {
    json parsed = json::parse(*old, nullptr, false);
    if (!parsed.is_object() || !parsed.contains("manifests") || !parsed["manifests"].is_array()) {
      return Status(Code::kManifestInvalid, name_ + ": malformed " + index_path);
    }
    index = std::move(parsed);
  } else if (old.status().code() != Code::kNotFound) {
    return old.status();
  }
  json kept = json::array();
  for (json& e : index["manifests"]) {
    std::string ref = RefName(e);
    bool replaced =
        tag_.empty() ? (ref.empty() && e.value("digest", "") == top_->digest.str()) : ref == tag_;
    if (!replaced) kept.push_back(std::move(e));
  }
  json entry = {{"mediaType", top_->media_type},
                {"digest", top_->digest.str()},
                {"size", top_->bytes.size()}};
  if (!tag_.empty()) entry["annotations"] = {{std::string(kRefNameAnnotation), tag_}};
  kept.push_back(std::move(entry));
  index["manifests"] = std::move(kept);
  if (::access((write_dir_ + "/oci-layout").c_str(), F_OK) != 0) {
    HOIST_RETURN_IF_ERROR(
        WriteFileAtomic(write_dir_ + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));
  }
  HOIST_RETURN_IF_ERROR(WriteFileAtomic(index_path, index.dump()));
  if (write_dir_ != dir_) {
    if (::rename(write_dir_.c_str(), dir_.c_str()) != 0) return ErrnoStatus("rename", dir_);
    write_dir_ = dir_;
  }
  committed_ = true;
  return Status::Ok();
}

}  // namespace hoist::transfer
