#include "registry/proxy.h"

#include <cstring>
#include <vector>

#include "common/log.h"
#include "common/reference.h"
#include "registry/storage/paths.h"

namespace hoist::registry {

namespace paths = storage::paths;

namespace {

constexpr size_t kPiece = 256 << 10;

bool IsDigestReference(const std::string& reference) {
  return reference.find(':') != std::string::npos;
}

// The bytes of an upstream blob on their way to a client: each piece read
// from the upstream is hashed and written to a staged upload before it is
// handed on, one piece behind, so the last one goes out only once the
// digest has checked out and the blob is in storage.
class MirroredBlob : public ByteSource {
 public:
  MirroredBlob(std::unique_ptr<ByteSource> upstream, std::unique_ptr<storage::FileWriter> file,
               std::string repo, std::string id, Digest digest, int64_t size, BlobStore& blobs,
               UploadStore& uploads)
      : upstream_(std::move(upstream)),
        file_(std::move(file)),
        repo_(std::move(repo)),
        id_(std::move(id)),
        digest_(std::move(digest)),
        size_(size),
        blobs_(blobs),
        uploads_(uploads),
        hash_(digest_.algorithm()) {}

  ~MirroredBlob() override {
    if (!stored_) {  // cut short, refused or failed: nothing stays
      if (file_) file_->Cancel();
      uploads_.Unstage(repo_, id_);
    }
  }

  Result<size_t> Read(char* buf, size_t n) override {
    if (!failed_.ok()) return failed_;
    if (held_off_ == held_.size()) {
      held_.clear();
      held_off_ = 0;
      if (done_) return size_t{0};
      Status st = Advance();
      if (!st.ok()) {
        failed_ = st;
        return st;
      }
      if (held_.empty()) return size_t{0};
    }
    size_t k = std::min(n, held_.size() - held_off_);
    std::memcpy(buf, held_.data() + held_off_, k);
    held_off_ += k;
    return k;
  }

 private:
  // Moves the piece read ahead into `held_` and reads the next one; at the
  // upstream's end, verifies and stores the blob before anything more is
  // handed on.
  Status Advance() {
    if (!primed_) {
      primed_ = true;
      HOIST_RETURN_IF_ERROR(ReadPiece(&ahead_));
    }
    held_.swap(ahead_);
    ahead_.clear();
    if (!upstream_done_) HOIST_RETURN_IF_ERROR(ReadPiece(&ahead_));
    if (upstream_done_ && ahead_.empty()) {
      HOIST_RETURN_IF_ERROR(Finish());
      done_ = true;
    }
    return Status::Ok();
  }

  Status ReadPiece(std::string* piece) {
    piece->resize(kPiece);
    size_t got = 0;
    while (got < kPiece) {
      Result<size_t> r = upstream_->Read(piece->data() + got, kPiece - got);
      if (!r.ok()) return r.status();
      if (*r == 0) {
        upstream_done_ = true;
        break;
      }
      got += *r;
    }
    piece->resize(got);
    received_ += static_cast<int64_t>(got);
    if (received_ > size_) {
      return Refuse("the upstream sent more than the " + std::to_string(size_) +
                    " bytes announced");
    }
    hash_.Update(piece->data(), got);
    return file_->Write(piece->data(), got);
  }

  Status Finish() {
    if (received_ != size_) {
      return Refuse("the upstream sent " + std::to_string(received_) + " of " +
                    std::to_string(size_) + " bytes");
    }
    Digest got = hash_.Current();
    if (got != digest_) return Refuse("the upstream's bytes have digest " + got.str());
    HOIST_RETURN_IF_ERROR(file_->Commit());
    file_.reset();
    BlobStore::Use use(blobs_);  // kept by a sweep until linked (gc.h)
    use.Add(digest_);
    HOIST_RETURN_IF_ERROR(blobs_.Adopt(paths::UploadData(repo_, id_), digest_));
    HOIST_RETURN_IF_ERROR(blobs_.Link(repo_, digest_));
    stored_ = true;
    uploads_.Unstage(repo_, id_);
    log::Info("mirrored blob",
              {{"repository", repo_}, {"digest", digest_.str()}, {"bytes", std::to_string(size_)}});
    return Status::Ok();
  }

  Status Refuse(const std::string& why) {
    log::Error("refused an upstream blob",
               {{"repository", repo_}, {"digest", digest_.str()}, {"error", why}});
    return Status(Code::kDigestInvalid, "blob " + digest_.str() + " from the upstream: " + why);
  }

  std::unique_ptr<ByteSource> upstream_;
  std::unique_ptr<storage::FileWriter> file_;
  std::string repo_, id_;
  Digest digest_;
  int64_t size_;
  BlobStore& blobs_;
  UploadStore& uploads_;
  Digester hash_;
  std::string held_, ahead_;
  size_t held_off_ = 0;
  int64_t received_ = 0;
  bool primed_ = false, upstream_done_ = false, done_ = false, stored_ = false;
  Status failed_;
};

// What an upstream's failure means to the mirror's client. Absent upstream
// is absent here. A refusal too: Docker Hub answers 401 for repositories
// that do not exist, and the client cannot sign in to the upstream through
// the mirror anyway; the log says which it was. Anything else (unreachable,
// TLS, bytes that do not match their digest) is the mirror's gateway
// failing: kIo, which the mirror answers with 502 (api.cc).
Status UpstreamFailure(const Status& st, Code unknown, const std::string& what) {
  Code c = st.code();
  if (c == Code::kManifestUnknown || c == Code::kBlobUnknown || c == Code::kNameUnknown ||
      c == Code::kNotFound) {
    return Status(unknown, what + " is unknown upstream");
  }
  if (c == Code::kUnauthorized || c == Code::kDenied) {
    log::Warn("the upstream refused", {{"what", what}, {"error", st.message()}});
    return Status(unknown, what + ": the upstream refused it (" + st.message() + ")");
  }
  return Status(Code::kIo, "upstream: " + st.message());
}

}  // namespace

Result<std::unique_ptr<Proxy>> Proxy::Create(const ProxyOptions& o, storage::StorageDriver& driver,
                                             BlobStore& blobs, ManifestStore& manifests,
                                             UploadStore& uploads) {
  const std::string& url = o.upstream;
  bool plain = url.rfind("http://", 0) == 0;
  if (!plain && url.rfind("https://", 0) != 0) {
    return Status(Code::kInvalidArgument,
                  "--proxy-upstream must be an http:// or https:// URL, not \"" + url + "\"");
  }
  Result<std::string> host = NormalizeRegistryHost(url);
  if (!host.ok()) return host.status();
  std::string domain = *host;
  bool docker_hub = domain == kDockerHubDomain || domain == kDockerHubApiHost;
  if (docker_hub) domain = std::string(kDockerHubDomain);
  RegistryClientOptions co;
  if (plain) co.plain_http_hosts.push_back(domain);
  co.transport.ca_file = o.ca_file;
  // A mirror answers clients that wait: two tries, quickly, then storage.
  co.attempts = 2;
  co.backoff_base_ms = 100;
  co.backoff_max_ms = 1000;
  co.transport.connect_timeout_sec = 5;
  if (!o.username.empty() || !o.password.empty()) {
    co.credential = Credential{o.username, o.password};
  } else if (!o.credentials_file.empty()) {
    co.docker_config = o.credentials_file;
  } else {
    co.credential = Credential{};  // anonymous, whatever the server's user has stored
  }
  return std::unique_ptr<Proxy>(
      new Proxy(o, domain, docker_hub, std::move(co), driver, blobs, manifests, uploads));
}

Proxy::Proxy(const ProxyOptions& options, std::string domain, bool docker_hub,
             RegistryClientOptions client_options, storage::StorageDriver& driver, BlobStore& blobs,
             ManifestStore& manifests, UploadStore& uploads)
    : options_(options),
      docker_hub_(docker_hub),
      client_(std::move(domain), std::move(client_options)),
      driver_(driver),
      blobs_(blobs),
      manifests_(manifests),
      uploads_(uploads) {}

std::string Proxy::UpstreamRepository(const std::string& repo) const {
  if (docker_hub_ && repo.find('/') == std::string::npos) return "library/" + repo;
  return repo;
}

Status Proxy::EnsureManifest(const std::string& repo, const std::string& reference) {
  bool by_digest = IsDigestReference(reference);
  bool stored = manifests_.Get(repo, reference).ok();
  if (by_digest && stored) return Status::Ok();  // content-addressed: never stale
  std::string key = repo + ":" + reference;
  auto now = std::chrono::steady_clock::now();
  if (!by_digest && stored) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = checked_.find(key);
    if (it != checked_.end() && now - it->second < std::chrono::milliseconds(options_.tag_ttl_ms)) {
      return Status::Ok();
    }
  }
  std::string upstream_repo = UpstreamRepository(repo);
  if (!by_digest && stored) {
    // A HEAD tells whether the tag moved without fetching the manifest.
    Result<std::optional<ManifestHead>> head = client_.HeadManifest(upstream_repo, reference);
    if (!head.ok()) {
      log::Warn("upstream unreachable; serving the stored tag",
                {{"repository", repo}, {"tag", reference}, {"error", head.status().message()}});
      std::lock_guard<std::mutex> l(mu_);
      checked_[key] = now;  // and not asked again before the TTL: clients do not wait each time
      return Status::Ok();
    }
    if (!*head) return Status(Code::kManifestUnknown, "manifest unknown upstream: " + key);
    Result<StoredManifest> mine = manifests_.Get(repo, reference);
    if ((*head)->digest && mine.ok() && mine->digest == *(*head)->digest) {
      std::lock_guard<std::mutex> l(mu_);
      checked_[key] = now;
      return Status::Ok();
    }
  }
  Result<RemoteManifest> m = client_.GetManifest(upstream_repo, reference);
  if (!m.ok()) {
    if (stored) {
      log::Warn("upstream unreachable; serving the stored tag",
                {{"repository", repo}, {"tag", reference}, {"error", m.status().message()}});
      std::lock_guard<std::mutex> l(mu_);
      checked_[key] = now;
      return Status::Ok();
    }
    return UpstreamFailure(m.status(), Code::kManifestUnknown, "manifest " + key);
  }
  HOIST_RETURN_IF_ERROR(
      manifests_.PutMirrored(repo, by_digest ? "" : reference, m->digest, m->bytes));
  log::Info("mirrored manifest",
            {{"repository", repo}, {"reference", reference}, {"digest", m->digest.str()}});
  if (!by_digest) {
    std::lock_guard<std::mutex> l(mu_);
    checked_[key] = now;
  }
  return Status::Ok();
}

Result<Proxy::Fetch> Proxy::FetchBlob(const std::string& repo, const Digest& digest, bool head) {
  std::string upstream_repo = UpstreamRepository(repo);
  Result<std::optional<int64_t>> size = client_.HeadBlob(upstream_repo, digest);
  if (!size.ok()) return UpstreamFailure(size.status(), Code::kBlobUnknown, "blob " + digest.str());
  if (!*size) {
    return Status(Code::kBlobUnknown, "blob unknown: " + digest.str(),
                  "{\"digest\":\"" + digest.str() + "\"}");
  }
  Fetch f;
  f.size = **size;
  {
    BlobStore::Use use(blobs_);  // from the check to the link (gc.h)
    use.Add(digest);
    if (Result<int64_t> have = blobs_.StatData(digest); have.ok() && *have == f.size) {
      HOIST_RETURN_IF_ERROR(blobs_.Link(repo, digest));
      f.linked = true;
      return f;
    }
  }
  if (head) return f;
  Result<std::unique_ptr<ByteSource>> body = client_.OpenBlob(upstream_repo, digest, f.size);
  if (!body.ok()) return UpstreamFailure(body.status(), Code::kBlobUnknown, "blob " + digest.str());
  Result<std::string> id = uploads_.Stage(repo);
  if (!id.ok()) return id.status();
  Result<std::unique_ptr<storage::FileWriter>> file =
      driver_.Writer(paths::UploadData(repo, *id), false);
  if (!file.ok()) {
    uploads_.Unstage(repo, *id);
    return file.status();
  }
  f.body = std::make_unique<MirroredBlob>(std::move(*body), std::move(*file), repo, *id, digest,
                                          f.size, blobs_, uploads_);
  return f;
}

}  // namespace hoist::registry
