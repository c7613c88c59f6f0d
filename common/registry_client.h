// A client for one registry host over the OCI distribution API
// (distribution-spec v1.1: "Pull", "Push", "Content Discovery"), as any
// client would speak to hoist's registry, distribution, Docker Hub, GHCR.
//
// - Scheme: HTTPS, except hosts named in plain_http_hosts (HTTP only) and
//   loopback hosts (localhost, 127.0.0.0/8, ::1), which try HTTPS first and
//   fall back to HTTP, as Docker does for them.
// - Auth (the Docker token flow, distribution "token" and "htpasswd"
//   auth): GET /v2/ learns the WWW-Authenticate challenge. Basic: the
//   stored credentials on every request. Bearer: a token from the realm
//   for (service, scopes), with Basic credentials when there are some
//   (anonymous otherwise), cached per scope set until it expires, fetched
//   again once when a request answers 401.
// - Retries: connection errors, 408, 429 and 5xx are retried with
//   exponential backoff and jitter, honouring Retry-After; a blob download
//   cut short resumes with Range from where it stopped; an upload cut short
//   starts a new upload session.
// - Final errors name the method, repository, manifest or blob, the HTTP
//   status and the registry's error code; they never contain credentials.
//
// Thread-safety: safe for concurrent use (one client per host is shared by
// all the blob transfers of a copy).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/credentials.h"
#include "common/digest.h"
#include "common/http_client.h"
#include "common/io.h"
#include "common/status.h"

namespace hoist {

struct RegistryClientOptions {
  http_client::TransportOptions transport;    // TLS verification, CA file, timeouts
  std::vector<std::string> plain_http_hosts;  // hosts spoken to in plain HTTP
  int attempts = 5;                           // tries per request, >= 1
  int backoff_base_ms = 250;                  // first retry delay (doubles each time)
  int backoff_max_ms = 10000;                 // largest delay (and Retry-After cap x6)
  std::string docker_config;                  // credentials file; empty: the default
  // When set: these credentials instead of the store's (`hoist login`).
  std::optional<Credential> credential;
  // Called (from any thread) before each retry with a one-line reason.
  std::function<void(const std::string&)> on_retry;
};

// A manifest as the registry serves it: the exact bytes (digests are over
// them), its media type and digest.
struct RemoteManifest {
  std::string media_type;
  std::string bytes;
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
};

// What HEAD tells about a manifest.
struct ManifestHead {
  std::string media_type;
  std::optional<Digest> digest;
  int64_t size = -1;
};

// True for errors that another try may cure (connection trouble, 429, 5xx).
bool IsRetryable(const Status& st);

class RegistryClient {
 public:
  // `domain` is a Reference::domain() ("docker.io", "localhost:5000").
  // Nothing is sent until the first call.
  RegistryClient(std::string domain, RegistryClientOptions options);
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  const std::string& domain() const { return domain_; }
  // "https://host:port" once a call has settled the scheme.
  std::string base_url();

  // GET /v2/: settles the scheme and learns the auth challenge. With
  // `check_credentials`, also proves the credentials are accepted (Basic:
  // GET /v2/ with them; Bearer: a token for no scope), as `docker login`.
  Status Ping(bool check_credentials = false);

  // GET /v2/<repo>/manifests/<ref>. Verifies the bytes against a digest
  // `ref`, or against Docker-Content-Digest. kManifestUnknown when absent.
  Result<RemoteManifest> GetManifest(const std::string& repo, const std::string& ref);
  // HEAD of a manifest; nullopt when absent.
  Result<std::optional<ManifestHead>> HeadManifest(const std::string& repo, const std::string& ref);
  // PUT /v2/<repo>/manifests/<ref> (a tag or the digest).
  Status PutManifest(const std::string& repo, const std::string& ref, const std::string& media_type,
                     const std::string& bytes);

  // GET /v2/<repo>/referrers/<digest>[?artifactType=] (distribution-spec
  // v1.1 "Listing Referrers"): the image index's bytes, or nullopt when the
  // registry has no referrers API (404), where clients use the referrers
  // tag schema instead.
  Result<std::optional<std::string>> Referrers(const std::string& repo, const Digest& subject,
                                               const std::string& artifact_type = {});

  // HEAD of a blob: its size, or nullopt when absent.
  Result<std::optional<int64_t>> HeadBlob(const std::string& repo, const Digest& digest);
  // GET of a blob as a stream that resumes (Range) after a broken
  // connection. The caller verifies digest and size (see VerifyingReader).
  Result<std::unique_ptr<ByteSource>> OpenBlob(const std::string& repo, const Digest& digest,
                                               int64_t size);
  // Cross-repository mount (POST ?mount=&from=): true when mounted.
  Result<bool> MountBlob(const std::string& repo, const Digest& digest,
                         const std::string& from_repo);
  // Uploads a blob: POST a session, PATCH the stream, PUT ?digest=. On a
  // retryable failure the session is cancelled and the upload starts
  // again with a new stream from `open`.
  using StreamOpener = std::function<Result<std::unique_ptr<ByteSource>>()>;
  Status PushBlob(const std::string& repo, const Digest& digest, int64_t size,
                  const StreamOpener& open);

  // Asks for "pull,push" tokens for every request on `repo` (a push
  // destination), so one token serves its HEADs, uploads and manifests.
  void PreferPushScope(const std::string& repo);

  // GET /v2/<repo>/tags/list, every page.
  Result<std::vector<std::string>> ListTags(const std::string& repo);
  // GET /v2/_catalog, every page.
  Result<std::vector<std::string>> Catalog();

 private:
  friend class RemoteBlobReader;
  enum class Scheme { kNone, kBasic, kBearer };
  struct Token {
    std::string value;
    int64_t expires_ms = 0;
  };

  // Sends `req` (url: a path below base_url(), or absolute) with auth for
  // `scopes` and retries. With !replayable (a streamed body) nothing is
  // retried and 401/429/5xx come back as responses.
  Result<std::unique_ptr<http_client::Response>> Send(http_client::Request req,
                                                      const std::vector<std::string>& scopes,
                                                      bool replayable = true);
  Status EnsurePinged();
  Status PingLocked();
  Result<std::string> AuthHeader(const std::vector<std::string>& scopes);
  Result<Token> FetchToken(const std::vector<std::string>& scopes);
  void ForgetToken(const std::vector<std::string>& scopes);
  void ParseChallenge(const std::string* header);
  std::optional<Credential> Credentials();
  void Backoff(int attempt, int retry_after_ms, const std::string& why);
  // A Status for a non-2xx response: method, what, status, registry error.
  Status HttpError(http_client::Response& resp, const std::string& method, const std::string& what);
  Result<std::vector<std::string>> ListPages(std::string path, const std::string& scope,
                                             const char* key);

  const std::string domain_;
  const RegistryClientOptions options_;
  http_client::Transport transport_;

  std::mutex mu_;  // guards everything below
  bool pinged_ = false;
  std::string base_url_;
  Scheme scheme_ = Scheme::kNone;
  std::string realm_, service_;
  std::map<std::string, Token> tokens_;  // by joined scope list
  bool creds_loaded_ = false;
  std::optional<Credential> creds_;
  std::set<std::string> push_repos_;  // PreferPushScope
  std::mutex token_fetch_mu_;         // one token request at a time
  std::mutex ping_mu_;
};

}  // namespace hoist
