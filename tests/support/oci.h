// Helpers for integration tests that talk to a registry over HTTP: digests
// computed independently of hoist (OpenSSL directly), deterministic test
// content, OCI descriptors and manifests, the spec's error JSON, and the
// push sequences most tests start with.
//
// Functions that REQUIRE are for use on a Catch2 test's own thread only.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hoist::itest {

inline constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr const char* kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr const char* kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr const char* kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr const char* kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr const char* kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

// "sha256:<hex>" / "sha512:<hex>" of `data`.
std::string Sha256(std::string_view data);
std::string Sha512(std::string_view data);
// `n` deterministic pseudo-random bytes; different seeds give different bytes.
std::string TestBytes(size_t n, uint32_t seed);

// REQUIREs that the request got an answer (no transport error) and returns it.
httplib::Response Reply(const httplib::Result& result);

// The codes of an error body {"errors":[{"code":...},...]}, in order;
// empty when the body is not such a document.
std::vector<std::string> ErrorCodes(const std::string& body);
// All values of a header over all its fields, split at commas and trimmed.
std::vector<std::string> HeaderValues(const httplib::Response& r, const std::string& name);
// The path (and query) of a Location value, which may be an absolute URL.
std::string LocationPath(const std::string& location);
// `url` with `param` ("k=v") appended to its query.
std::string WithQuery(const std::string& url, const std::string& param);

// The target of a `<url>; rel="next"` Link header; empty when there is none.
std::string NextLink(const httplib::Response& r);
// GETs `path` and then every page its rel="next" Links name (at most 20
// pages), concatenating each page's `member` array. REQUIREs 200 and a
// JSON object on every page and that the last page has no Link.
nlohmann::json CollectPages(httplib::Client& cli, std::string path, const std::string& member);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  nlohmann::json ToJson() const;
};
Descriptor DescriptorOf(std::string media_type, std::string_view content);

// POST a session; REQUIREs 202 with a Location and returns its path.
std::string StartUpload(httplib::Client& cli, const std::string& repo,
                        const std::string& query = "");
// PATCH of `chunk` to `loc` with Content-Range "<offset>-<offset+size-1>";
// not asserted.
httplib::Result PatchAt(httplib::Client& cli, const std::string& loc, const std::string& chunk,
                        size_t offset);
// The closing PUT of `loc` with ?digest=; carries `chunk` (with its
// Content-Range at `offset`) as the last chunk when not empty; not asserted.
httplib::Result CloseUpload(httplib::Client& cli, const std::string& loc, const std::string& digest,
                            const std::string& chunk = "", size_t offset = 0);
// GETs an upload session's status; REQUIREs 204 and returns its Range.
std::string UploadRange(httplib::Client& cli, const std::string& loc);
// REQUIREs that every request on the upload session `loc` (status, PATCH,
// closing PUT, DELETE) is 404 BLOB_UPLOAD_UNKNOWN.
void RequireUploadUnknown(httplib::Client& cli, const std::string& loc);
// Monolithic POST + PUT of `data` into `repo`; REQUIREs 201; returns the digest.
std::string PushBlob(httplib::Client& cli, const std::string& repo, const std::string& data);

// An OCI image manifest's JSON text; members of `extra` are added to it.
std::string ImageManifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                          const nlohmann::json& extra = nlohmann::json::object());
// An index (OCI, or a Docker manifest list with that media type).
std::string IndexManifest(const std::string& media_type, const std::vector<Descriptor>& manifests);

// PUT of a manifest body with `content_type`; not asserted.
httplib::Result PutManifest(httplib::Client& cli, const std::string& repo,
                            const std::string& reference, const std::string& content_type,
                            const std::string& body);

struct PushedImage {
  Descriptor config;
  Descriptor layer;
  std::string manifest;  // exact bytes pushed
  std::string digest;    // sha256 of `manifest`
};
// Pushes a config, one layer and an OCI manifest (under `reference`, a tag
// or empty for by-digest) whose contents derive from `seed`; REQUIREs 201.
PushedImage PushImage(httplib::Client& cli, const std::string& repo, const std::string& reference,
                      uint32_t seed, const nlohmann::json& extra = nlohmann::json::object());

}  // namespace hoist::itest
