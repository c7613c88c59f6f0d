// Places an image can be copied from and to, named as skopeo and docker
// name them:
//   REF | docker://REF          a registry repository (Docker's grammar)
//   oci:DIR[:TAG]               an OCI image layout directory
//   oci-archive:FILE[:TAG]      a tar of one
//   docker-archive:FILE[:REF]   `docker save` / `docker load` format
// The path ends at the first ':' after the transport, as in skopeo.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "builder/transfer/source.h"
#include "common/reference.h"
#include "common/registry_client.h"

namespace hoist::transfer {

enum class PlaceKind { kRegistry, kLayout, kOciArchive, kDockerArchive };

struct Place {
  PlaceKind kind = PlaceKind::kRegistry;
  std::optional<Reference> ref;  // registry; docker-archive's optional REF
  std::string path;              // layout directory or archive file
  std::string tag;               // oci / oci-archive TAG (may be empty)
  std::string text;              // as the user wrote it

  bool local() const { return kind != PlaceKind::kRegistry; }
};

// Parses a place. Errors: kInvalidArgument naming the input.
Result<Place> ParsePlace(std::string_view s);

// Opens places; registry clients are shared per host, so tokens and
// connections are reused between the source and the destination.
// Thread-safe.
class Places {
 public:
  explicit Places(RegistryClientOptions options) : options_(std::move(options)) {}

  std::shared_ptr<RegistryClient> Client(const std::string& domain);
  Result<std::unique_ptr<ImageSource>> OpenSource(const Place& p);
  // `from` (may be null) lends a docker-archive its RepoTags.
  Result<std::unique_ptr<ImageSink>> OpenSink(const Place& p, const Place* from = nullptr);

 private:
  RegistryClientOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<RegistryClient>> clients_;
};

}  // namespace hoist::transfer
