// A pull-through mirror (`serve --proxy-upstream URL`; distribution's
// `proxy.remoteurl`): a manifest or blob that a pull asks for and the
// storage lacks is fetched from the upstream registry, stored, and served
// from storage afterwards. Tags are asked of the upstream again once
// `tag_ttl` has passed since they were last checked; while the upstream
// cannot be reached, what is stored is served. Pushes and deletes are
// refused (api.cc): a mirror holds only what the upstream has.
//
// Blobs stream to the client while they are written to a staged upload
// and hashed; the bytes become a blob only after the digest checked out.
// The last piece of the body is held back until then: when the upstream's
// bytes do not match the digest, nothing is stored and the client's
// connection is closed short of the announced length, so no client takes
// a corrupt blob for a whole one.
//
// The upstream is spoken to with common/registry_client.h (its auth,
// retries and TLS), as any client would.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/io.h"
#include "common/registry_client.h"
#include "registry/blob_store.h"
#include "registry/manifest_store.h"
#include "registry/upload_store.h"

namespace hoist::registry {

struct ProxyOptions {
  std::string upstream;            // "https://host[:port]" or "http://host:port"
  std::string username, password;  // upstream credentials, if any
  std::string credentials_file;    // or a docker config.json with them
  std::string ca_file;             // extra CA for the upstream's TLS
  int64_t tag_ttl_ms = 60 * 1000;
};

class Proxy {
 public:
  // kInvalidArgument for an upstream that is not an http(s) URL.
  static Result<std::unique_ptr<Proxy>> Create(const ProxyOptions& options,
                                               storage::StorageDriver& driver, BlobStore& blobs,
                                               ManifestStore& manifests, UploadStore& uploads);

  // The upstream's name for a repository: Docker Hub's one-word names
  // live under library/ ("busybox" is "library/busybox").
  std::string UpstreamRepository(const std::string& repo) const;
  // Makes `reference` (a tag or digest) of `repo` present in storage when
  // the upstream has it: a digest missing from storage, or a tag not
  // checked within the TTL. An unreachable upstream is not an error when
  // storage can answer.
  Status EnsureManifest(const std::string& repo, const std::string& reference);
  // A blob missing from storage, from the upstream: its size, and a
  // stream of its bytes that stores them as they pass (see the file
  // comment). kBlobUnknown when the upstream lacks it.
  // When storage holds the bytes already (another repository pulled
  // them), the upstream is only asked whether this repository has the
  // blob, and the blob is linked here (`linked`) rather than fetched.
  struct Fetch {
    int64_t size = 0;
    bool linked = false;
    std::unique_ptr<ByteSource> body;  // null for a HEAD, or when linked
  };
  Result<Fetch> FetchBlob(const std::string& repo, const Digest& digest, bool head);

  const std::string& upstream() const { return options_.upstream; }

 private:
  Proxy(const ProxyOptions& options, std::string domain, bool docker_hub,
        RegistryClientOptions client_options, storage::StorageDriver& driver, BlobStore& blobs,
        ManifestStore& manifests, UploadStore& uploads);

  ProxyOptions options_;
  bool docker_hub_;
  RegistryClient client_;
  storage::StorageDriver& driver_;
  BlobStore& blobs_;
  ManifestStore& manifests_;
  UploadStore& uploads_;
  std::mutex mu_;
  // "repo:tag" -> when the upstream last confirmed it; guarded by mu_.
  std::map<std::string, std::chrono::steady_clock::time_point> checked_;
};

}  // namespace hoist::registry
