// Image references in Docker's grammar and normalisation
// (distribution/reference, "reference.go" and "normalize.go"):
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path          (lowercase path components)
//   domain    := host [ ":" port ]            (host: DNS name, IPv4, [IPv6])
//
// `redis:alpine` is docker.io/library/redis:alpine; the first component is
// a domain only when it contains "." or ":", is "localhost", or has an
// uppercase letter. A reference without tag or digest means ":latest".
// This is the one parser: nobody else splits references on ':' or '@'.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/status.h"

namespace hoist {

// Docker Hub's canonical domain and the host its API really lives on.
inline constexpr std::string_view kDockerHubDomain = "docker.io";
inline constexpr std::string_view kDockerHubApiHost = "registry-1.docker.io";
// The key `docker login` uses for Docker Hub in ~/.docker/config.json.
inline constexpr std::string_view kDockerHubConfigKey = "https://index.docker.io/v1/";

// An immutable, validated, normalised image reference.
class Reference {
 public:
  // Parses and normalises `s`. Errors: kInvalidArgument naming the input
  // and what is wrong with it (uppercase path, bad tag, bad digest, ...).
  // With `default_tag`, a reference with neither tag nor digest gets
  // "latest"; without it, such a reference names only a repository.
  static Result<Reference> Parse(std::string_view s, bool default_tag = true);

  // "docker.io", "localhost:5000", "127.0.0.1:5000", "[::1]:5000".
  const std::string& domain() const { return domain_; }
  // "library/redis", "org/app".
  const std::string& path() const { return path_; }
  // The tag, or empty (a digest-only or repository-only reference).
  const std::string& tag() const { return tag_; }
  const std::optional<Digest>& digest() const { return digest_; }

  // domain/path: "docker.io/library/redis".
  std::string Name() const { return domain_ + "/" + path_; }
  // The full normalised form: "docker.io/library/redis:alpine@sha256:...".
  std::string String() const;
  // Docker's short form: "redis:alpine", "org/app:1", "localhost:5000/x:1".
  std::string Familiar() const;
  // What goes after /manifests/: the digest when there is one, else the tag.
  std::string ManifestReference() const;

  Reference WithTag(std::string tag) const;
  Reference WithDigest(const Digest& d) const;
  Reference WithoutTagOrDigest() const;

  bool operator==(const Reference& o) const { return String() == o.String(); }

 private:
  std::string domain_, path_, tag_;
  std::optional<Digest> digest_;
};

// Normalises a registry host as users type it for `hoist login`, `catalog`:
// strips a scheme and a trailing path, maps index.docker.io and Docker
// Hub's config key to "docker.io", lowercases the host. Errors:
// kInvalidArgument when what remains is not host[:port].
Result<std::string> NormalizeRegistryHost(std::string_view s);

// The host:port the registry API of `domain` is served on
// (registry-1.docker.io for docker.io, else `domain` itself).
std::string RegistryApiHost(std::string_view domain);

// True for localhost, 127.0.0.0/8 and ::1 (with or without a port): the
// hosts that may be spoken to in plain HTTP without being named.
bool IsLoopbackHost(std::string_view domain);

}  // namespace hoist
