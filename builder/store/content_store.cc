#include "builder/store/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

namespace hoist::store {
namespace {

// Every on-disk path of the store is built here.
struct Paths {
  static std::string Blob(const std::string& root, const Digest& d) {
    return root + "/blobs/" + std::string(d.algorithm_name()) + "/" + d.hex();
  }
  static std::string BlobDir(const std::string& root, DigestAlgorithm a) {
    return root + "/blobs/" + std::string(AlgorithmName(a));
  }
  static std::string Index(const std::string& root, const Digest& d) {
    return root + "/index/" + std::string(d.algorithm_name()) + "/" + d.hex() + ".json";
  }
  static std::string IndexDir(const std::string& root, DigestAlgorithm a) {
    return root + "/index/" + std::string(AlgorithmName(a));
  }
  static std::string Tmp(const std::string& root) { return root + "/tmp"; }
};

// Unique among processes (pid) and threads (counter), and unguessable enough
// that a stale file from a dead writer is never reused.
std::string UniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(rng() % 1000000007);
}

Status BlobUnknown(const Digest& d) {
  return Status(Code::kBlobUnknown, "blob " + d.str() + " not in the local store");
}

}  // namespace

// ---- BlobWriter ----

BlobWriter::BlobWriter(ContentStore* store, UniqueFd fd, std::string tmp_path, DigestAlgorithm a)
    : store_(store), fd_(std::move(fd)), tmp_path_(std::move(tmp_path)), digester_(a) {}

BlobWriter::~BlobWriter() {
  Abort();
}

Status BlobWriter::Write(const char* data, size_t n) {
  if (done_) return Status(Code::kInternal, "write to a finished blob writer");
  digester_.Update(data, n);
  return WriteAll(fd_.get(), data, n, tmp_path_);
}

void BlobWriter::Abort() {
  if (done_) return;
  done_ = true;
  fd_.Reset();
  ::unlink(tmp_path_.c_str());
}

Result<Digest> BlobWriter::Commit(const std::optional<Digest>& expected, int64_t expected_size) {
  if (done_) return Status(Code::kInternal, "blob writer already finished");
  Digest got = digester_.Current();
  if (expected_size >= 0 && static_cast<uint64_t>(expected_size) != size()) {
    Abort();
    return Status(Code::kSizeInvalid, "blob size " + std::to_string(size()) + " != expected " +
                                          std::to_string(expected_size) +
                                          (expected ? " for " + expected->str() : std::string()));
  }
  if (expected && !(*expected == got)) {
    Abort();
    return Status(Code::kDigestInvalid,
                  "content hashes to " + got.str() + ", expected " + expected->str());
  }
  Status s = store_->Publish(tmp_path_, got, fd_.get());
  fd_.Reset();
  done_ = true;
  if (!s.ok()) {
    ::unlink(tmp_path_.c_str());
    return s;
  }
  return got;
}

// ---- ContentStore ----

std::string ContentStore::DefaultRoot() {
  if (const char* h = std::getenv("HOIST_HOME"); h && *h) return std::string(h) + "/store";
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    return std::string(x) + "/hoist/store";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/share/hoist/store";
}

Result<std::unique_ptr<ContentStore>> ContentStore::OpenRoot(const std::string& root,
                                                             StoreOptions options) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  for (DigestAlgorithm a : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    HOIST_RETURN_IF_ERROR(MakeDirs(Paths::BlobDir(r, a)));
    HOIST_RETURN_IF_ERROR(MakeDirs(Paths::IndexDir(r, a)));
  }
  HOIST_RETURN_IF_ERROR(MakeDirs(Paths::Tmp(r)));
  return std::unique_ptr<ContentStore>(new ContentStore(std::move(r), options));
}

std::string ContentStore::Path(const Digest& d) const {
  return Paths::Blob(root_, d);
}
std::string ContentStore::IndexPath(const Digest& d) const {
  return Paths::Index(root_, d);
}
std::string ContentStore::NewTempPath() const {
  return Paths::Tmp(root_) + "/" + UniqueSuffix();
}

bool ContentStore::Has(const Digest& d) const {
  struct stat st {};
  return ::stat(Path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<uint64_t> ContentStore::Size(const Digest& d) const {
  struct stat st {};
  if (::stat(Path(d).c_str(), &st) != 0) {
    if (errno == ENOENT) return BlobUnknown(d);
    return ErrnoStatus("stat", Path(d));
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<std::unique_ptr<FileSource>> ContentStore::Open(const Digest& d) const {
  Result<std::unique_ptr<FileSource>> f = OpenFileSource(Path(d));
  if (!f.ok() && f.status().code() == Code::kNotFound) return BlobUnknown(d);
  return f;
}

Result<std::unique_ptr<BlobWriter>> ContentStore::NewWriter(DigestAlgorithm a) {
  std::string tmp = NewTempPath();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp);
  return std::unique_ptr<BlobWriter>(new BlobWriter(this, UniqueFd(fd), std::move(tmp), a));
}

Status ContentStore::Publish(const std::string& tmp_path, const Digest& d, int fd) {
  if (options_.fsync && ::fsync(fd) != 0) return ErrnoStatus("fsync", tmp_path);
  std::string dst = Path(d);
  struct stat have {
  }, mine{};
  // Deduplicate: an existing blob of the right size is kept (its inode may be
  // open elsewhere); a wrong-sized one (a damaged cache) is replaced.
  if (::stat(dst.c_str(), &have) == 0 && ::fstat(fd, &mine) == 0 && have.st_size == mine.st_size) {
    ::unlink(tmp_path.c_str());
    return Status::Ok();
  }
  if (::rename(tmp_path.c_str(), dst.c_str()) != 0) return ErrnoStatus("rename", dst);
  return Status::Ok();
}

namespace {
// Copies src to its end into w; stops early once more than `limit` bytes
// came (an oversized stream is refused at Commit without filling the disk).
Status CopyInto(ByteSource& src, BlobWriter& w, int64_t limit) {
  std::vector<char> buf(1 << 20);
  while (true) {
    Result<size_t> n = src.Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return Status::Ok();
    HOIST_RETURN_IF_ERROR(w.Write(buf.data(), *n));
    if (limit >= 0 && w.size() > static_cast<uint64_t>(limit)) return Status::Ok();
  }
}
}  // namespace

Status ContentStore::Ingest(ByteSource& src, const Digest& expected, int64_t expected_size) {
  if (Has(expected)) return Status::Ok();
  Result<std::unique_ptr<BlobWriter>> w = NewWriter(expected.algorithm());
  if (!w.ok()) return w.status();
  HOIST_RETURN_IF_ERROR(CopyInto(src, **w, expected_size));
  return (*w)->Commit(expected, expected_size).status();
}

Result<Digest> ContentStore::Put(ByteSource& src) {
  Result<std::unique_ptr<BlobWriter>> w = NewWriter();
  if (!w.ok()) return w.status();
  HOIST_RETURN_IF_ERROR(CopyInto(src, **w, -1));
  return (*w)->Commit();
}

Status ContentStore::PutLayerInfo(const LayerInfo& info) {
  nlohmann::json j = {{"digest", info.digest.str()},
                      {"diffID", info.diff_id.str()},
                      {"mediaType", info.media_type},
                      {"size", info.size},
                      {"tarSize", info.tar_size}};
  std::string text = j.dump();
  std::string tmp = NewTempPath();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp);
  Status s = WriteAll(fd, text.data(), text.size(), tmp);
  ::close(fd);
  std::string dst = IndexPath(info.digest);
  if (s.ok() && ::rename(tmp.c_str(), dst.c_str()) != 0) s = ErrnoStatus("rename", dst);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Result<LayerInfo> ContentStore::GetLayerInfo(const Digest& d) const {
  std::string path = IndexPath(d);
  Result<std::unique_ptr<FileSource>> f = OpenFileSource(path);
  if (!f.ok()) {
    if (f.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, "no layer record for " + d.str());
    }
    return f.status();
  }
  std::string text;
  char buf[4096];
  while (true) {
    Result<size_t> n = (*f)->Read(buf, sizeof buf);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    text.append(buf, *n);
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j["digest"].is_string() || !j["diffID"].is_string()) {
    return Status(Code::kInternal, "corrupt layer record " + path);
  }
  Result<Digest> digest = Digest::Parse(j["digest"].get<std::string>());
  Result<Digest> diff_id = Digest::Parse(j["diffID"].get<std::string>());
  if (!digest.ok() || !diff_id.ok() || !(*digest == d)) {
    return Status(Code::kInternal, "corrupt layer record " + path);
  }
  LayerInfo info{*digest, *diff_id, j.value("mediaType", ""), j.value("size", uint64_t{0}),
                 j.value("tarSize", uint64_t{0})};
  return info;
}

Status ContentStore::Delete(const Digest& d) {
  for (const std::string& p : {Path(d), IndexPath(d)}) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", p);
  }
  return Status::Ok();
}

Status ContentStore::Verify(const Digest& d) const {
  Result<std::unique_ptr<FileSource>> f = Open(d);
  if (!f.ok()) return f.status();
  Digester h(d.algorithm());
  std::vector<char> buf(1 << 20);
  while (true) {
    Result<size_t> n = (*f)->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    h.Update(buf.data(), *n);
  }
  if (!(h.Current() == d)) {
    return Status(Code::kDigestInvalid,
                  "stored blob " + d.str() + " now hashes to " + h.Current().str());
  }
  return Status::Ok();
}

Status ContentStore::RemoveStaleTemp(std::chrono::seconds min_age) {
  std::string dir = Paths::Tmp(root_);
  DIR* dp = ::opendir(dir.c_str());
  if (!dp) return ErrnoStatus("opendir", dir);
  time_t cutoff = ::time(nullptr) - min_age.count();
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(dp)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    std::string p = dir + "/" + name;
    if (::lstat(p.c_str(), &st) == 0 && st.st_mtime < cutoff) stale.push_back(p);
  }
  ::closedir(dp);
  for (const std::string& p : stale) ::unlink(p.c_str());
  return Status::Ok();
}

}  // namespace hoist::store
