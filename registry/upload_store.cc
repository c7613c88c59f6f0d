#include "registry/upload_store.h"

#include <chrono>
#include <ctime>
#include <random>
#include <span>
#include <vector>

#include "common/clock.h"
#include "registry/storage/paths.h"
#include "registry/storage/write_behind.h"

namespace hoist::registry {

namespace paths = storage::paths;

namespace {

constexpr size_t kChunk = 1 << 20;
// Buffers in flight per upload request: receiving one, writing one, and
// slack for the writer's uneven pace.
constexpr size_t kWriteBuffers = 4;
constexpr size_t kMaxCachedSessions = 4096;

std::string NewUuid() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t a = rng(), b = rng();
  a = (a & ~0xF000ULL) | 0x4000ULL;        // version 4
  b = (b & ~(3ULL << 62)) | (2ULL << 62);  // variant 10
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string Rfc3339Now() {
  return FormatUtcSeconds(std::time(nullptr));
}

Status UnknownUpload(const std::string& id) {
  return Status(Code::kBlobUploadUnknown, "upload " + id + " unknown");
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<ChunkRange> ParseContentRange(std::string_view s) {
  if (s.rfind("bytes ", 0) == 0) s.remove_prefix(6);
  if (s.rfind("bytes=", 0) == 0) s.remove_prefix(6);
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) s = s.substr(0, slash);
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  ChunkRange r;
  if (!ParseInt(s.substr(0, dash), &r.start) || !ParseInt(s.substr(dash + 1), &r.end)) {
    return std::nullopt;
  }
  if (r.end < r.start) return std::nullopt;
  return r;
}

bool UploadStore::IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::shared_ptr<UploadStore::Session> UploadStore::SessionFor(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  auto& s = sessions_[id];
  if (!s) {
    if (sessions_.size() > kMaxCachedSessions) {
      // Drop idle cache entries; their hash is rebuilt from storage if needed.
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second && it->second.use_count() == 1 && it->first != id) {
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
    }
    s = std::make_shared<Session>();
  }
  return s;
}

void UploadStore::Forget(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  sessions_.erase(id);
}

Result<std::string> UploadStore::Start(std::string_view repo, DigestAlgorithm algorithm,
                                       const std::string& owner) {
  int64_t open = open_.load();
  do {
    if (max_open_ > 0 && open >= max_open_) {
      return Status(Code::kTooManyRequests,
                    std::to_string(open) + " upload sessions are open (the limit); retry later");
    }
  } while (!open_.compare_exchange_weak(open, open + 1));
  starts_.fetch_add(1);
  Result<std::string> id = Open(repo, algorithm, owner);
  if (!id.ok()) Ended();
  return id;
}

Result<std::string> UploadStore::Open(std::string_view repo, DigestAlgorithm algorithm,
                                      const std::string& owner) {
  std::string id = NewUuid();
  HOIST_RETURN_IF_ERROR(d_.PutContent(paths::UploadStartedAt(repo, id), Rfc3339Now()));
  if (!owner.empty()) HOIST_RETURN_IF_ERROR(d_.PutContent(paths::UploadOwner(repo, id), owner));
  Result<std::unique_ptr<storage::FileWriter>> w = d_.Writer(paths::UploadData(repo, id), false);
  if (!w.ok()) return w.status();
  HOIST_RETURN_IF_ERROR((*w)->Commit());
  auto s = SessionFor(id);
  std::lock_guard<std::mutex> l(s->mu);
  s->hash = std::make_unique<Digester>(algorithm);
  s->hashed = 0;
  return id;
}

Result<std::string> UploadStore::Stage(std::string_view repo) {
  std::string id = NewUuid();
  HOIST_RETURN_IF_ERROR(d_.PutContent(paths::UploadStartedAt(repo, id), Rfc3339Now()));
  return id;
}

void UploadStore::Unstage(std::string_view repo, const std::string& id) {
  if (IsValidId(id)) (void)d_.Delete(paths::UploadDir(repo, id));
}

std::string UploadStore::Owner(std::string_view repo, const std::string& id) {
  if (!IsValidId(id)) return "";
  Result<std::string> o = d_.GetContent(paths::UploadOwner(repo, id));
  return o.ok() ? *o : "";
}

Result<int64_t> UploadStore::Offset(std::string_view repo, const std::string& id) {
  if (!IsValidId(id)) return UnknownUpload(id);
  Result<storage::FileInfo> fi = d_.Stat(paths::UploadData(repo, id));
  if (!fi.ok()) {
    if (fi.status().code() == Code::kNotFound) return UnknownUpload(id);
    return fi.status();
  }
  return fi->size;
}

Status UploadStore::Rehash(std::string_view repo, const std::string& id, Session& s, int64_t size,
                           DigestAlgorithm a) {
  if (s.hash && s.hashed == size && s.hash->algorithm() == a) return Status::Ok();
  s.hash = std::make_unique<Digester>(a);
  s.hashed = -1;
  // The latest saved state at or before `size` (another process's PATCH,
  // or one before a restart), then the bytes after it.
  int64_t from = 0;
  if (Result<std::vector<std::string>> states = d_.List(paths::UploadHashStatesDir(repo, id, a));
      states.ok()) {
    int64_t best = -1;
    for (const std::string& p : *states) {
      std::string name = p.substr(p.rfind('/') + 1);
      if (name.empty() || name.size() > 18 || name.find_first_not_of("0123456789") != name.npos) {
        continue;
      }
      int64_t at = std::stoll(name);
      if (at <= size && at > best) best = at;
    }
    if (best > 0) {
      Result<std::string> saved = d_.GetContent(paths::UploadHashState(repo, id, a, best));
      Result<std::unique_ptr<Digester>> restored =
          saved.ok() ? Digester::Restore(a, *saved)
                     : Result<std::unique_ptr<Digester>>(saved.status());
      if (restored.ok() && static_cast<int64_t>((*restored)->bytes()) == best) {
        s.hash = std::move(*restored);
        from = best;
      }
    }
  }
  if (from == size) {
    s.hashed = size;
    return Status::Ok();
  }
  Result<std::unique_ptr<storage::FileReader>> r = d_.Reader(paths::UploadData(repo, id), from);
  if (!r.ok()) return r.status();
  std::vector<char> buf(kChunk);
  int64_t total = from;
  while (total < size) {
    Result<size_t> n = (*r)->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    size_t take = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(*n), size - total));
    s.hash->Update(buf.data(), take);
    total += static_cast<int64_t>(take);
  }
  if (total != size) return Status(Code::kIo, "upload data shorter than expected");
  s.hashed = size;
  return Status::Ok();
}

Result<int64_t> UploadStore::Append(std::string_view repo, const std::string& id, ByteSource& body,
                                    std::optional<ChunkRange> range, int64_t length,
                                    bool save_state) {
  Result<int64_t> offset = Offset(repo, id);
  if (!offset.ok()) return offset.status();
  auto s = SessionFor(id);
  std::lock_guard<std::mutex> l(s->mu);
  offset = Offset(repo, id);  // again, under the session lock
  if (!offset.ok()) return offset.status();
  if (range) {
    if (range->start != *offset) {
      return Status(Code::kRangeInvalid, "chunk starts at " + std::to_string(range->start) +
                                             " but the upload has " + std::to_string(*offset) +
                                             " bytes");
    }
    if (length >= 0 && range->end - range->start + 1 != length) {
      return Status(Code::kRangeInvalid, "Content-Range does not match Content-Length");
    }
  }
  std::string path = paths::UploadData(repo, id);
  DigestAlgorithm alg = s->hash ? s->hash->algorithm() : DigestAlgorithm::kSha256;
  HOIST_RETURN_IF_ERROR(Rehash(repo, id, *s, *offset, alg));
  Result<std::unique_ptr<storage::FileWriter>> w = d_.Writer(path, true);
  if (!w.ok()) return w.status();
  // Receive into large buffers and hash each while the one before is being
  // written: few system calls, memory bounded by the buffers whatever the
  // blob size, and the write's cost overlapped with the receive's.
  storage::WriteBehind out(**w, kWriteBuffers, kChunk);
  Status st;
  int64_t received = 0;
  bool eof = false;
  while (st.ok() && !eof) {
    std::span<char> buf = out.Next();
    size_t fill = 0;
    while (fill < buf.size()) {
      Result<size_t> n = body.Read(buf.data() + fill, buf.size() - fill);
      if (!n.ok()) {
        st = n.status();
        break;
      }
      if (*n == 0) {
        eof = true;
        break;
      }
      fill += *n;
    }
    s->hash->Update(buf.data(), fill);
    Status ws = out.Queue(fill);
    if (!ws.ok()) st = ws;
    received += static_cast<int64_t>(fill);
    if (fill == 0) break;
  }
  Status ds = out.Drain();
  if (!ds.ok()) {
    if (st.ok()) st = ds;
    s->hashed = -1;  // the file may hold part of what was hashed
  } else {
    s->hashed += received;
  }
  Status cs = (*w)->Commit();
  if (st.ok()) st = cs;
  if (!st.ok()) {
    // A storage that cannot be reached stays a 503 (the client retries);
    // anything else about the body makes the upload invalid.
    return st.code() == Code::kUnavailable ? st : Status(Code::kBlobUploadInvalid, st.message());
  }
  if (length >= 0 && received != length) {
    return Status(Code::kSizeInvalid, "received " + std::to_string(received) +
                                          " bytes, Content-Length said " + std::to_string(length));
  }
  if (save_state && received > 0) {
    // The next request may reach another process, or this one restarted:
    // it goes on from here without reading the bytes again. Best effort:
    // without it, they are read again.
    int64_t now = *offset + received;
    if (d_.PutContent(paths::UploadHashState(repo, id, alg, now), s->hash->SaveState()).ok() &&
        *offset > 0) {
      (void)d_.Delete(paths::UploadHashState(repo, id, alg, *offset));
    }
  }
  return *offset + received;
}

Status UploadStore::Finish(std::string_view repo, const std::string& id, const Digest& digest) {
  Result<int64_t> offset = Offset(repo, id);
  if (!offset.ok()) return offset.status();
  auto s = SessionFor(id);
  std::unique_lock<std::mutex> l(s->mu);
  offset = Offset(repo, id);
  if (!offset.ok()) return offset.status();
  std::string path = paths::UploadData(repo, id);
  HOIST_RETURN_IF_ERROR(Rehash(repo, id, *s, *offset, digest.algorithm()));
  Digest got = s->hash->Current();
  if (got != digest) {
    l.unlock();
    (void)Cancel(repo, id);
    return Status(Code::kDigestInvalid,
                  "upload content has digest " + got.str() + ", not " + digest.str(),
                  "{\"digest\":\"" + digest.str() + "\"}");
  }
  BlobStore::Use use(blobs_);  // the blob may exist, unreferenced, as a sweep runs
  use.Add(digest);
  HOIST_RETURN_IF_ERROR(blobs_.Adopt(path, digest));
  HOIST_RETURN_IF_ERROR(blobs_.Link(repo, digest));
  l.unlock();
  if (d_.Delete(paths::UploadDir(repo, id)).ok()) Ended();
  Forget(id);
  return Status::Ok();
}

Status UploadStore::Cancel(std::string_view repo, const std::string& id) {
  if (!IsValidId(id)) return UnknownUpload(id);
  Status st = d_.Delete(paths::UploadDir(repo, id));
  Forget(id);
  if (st.code() == Code::kNotFound) return UnknownUpload(id);
  if (st.ok()) Ended();
  return st;
}

Result<UploadStore::Sweep> UploadStore::ExpireIdle(
    int64_t idle_sec, int64_t now, bool dry_run,
    const std::function<void(const std::string&)>& on_delete) {
  Sweep sweep;
  const int64_t starts_before = starts_.load();
  auto idle = [&](const std::string& path) {
    Result<storage::FileInfo> fi = d_.Stat(path);
    return !fi.ok() || now - fi->mtime_unix >= idle_sec;
  };
  storage::ForEachRepositoryInternal(
      d_, [&](const std::string&, const std::string& dir, const std::string& name) {
        if (name != "_uploads") return;
        Result<std::vector<std::string>> ups = d_.List(dir);
        if (!ups.ok()) return;
        for (const std::string& up : *ups) {
          std::string id = up.substr(up.rfind('/') + 1);
          ++sweep.open;
          if (!idle(up) || !idle(up + "/data")) continue;
          // A request on the session holds its lock: in use, not idle.
          auto s = SessionFor(id);
          std::unique_lock<std::mutex> l(s->mu, std::try_to_lock);
          if (!l.owns_lock() || !idle(up + "/data")) continue;
          ++sweep.expired;
          --sweep.open;
          if (on_delete) on_delete(up);
          if (dry_run) continue;
          if (d_.Delete(up).ok()) Ended();
          l.unlock();
          Forget(id);
        }
      });
  // Sessions removed behind this process's back (another process's GC)
  // leave the count high: take the walk's, unless a Start raced it.
  if (!dry_run && starts_.load() == starts_before) open_.store(sweep.open);
  return sweep;
}

}  // namespace hoist::registry
