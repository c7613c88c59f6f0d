// OCI 1.1 referrers from the client's side (distribution-spec v1.1,
// "Pushing Manifests with Subject", "Listing Referrers", "Referrers Tag
// Schema"): push an artifact manifest whose `subject` is an image, and
// list an image's referrers, on registries with the referrers API and on
// those without it (distribution 2.8), where the client keeps the
// referrers index under the tag `<alg>-<hex>` itself.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/registry_client.h"

namespace hoist::transfer {

// {"mediaType", "digest", "size"} in that order.
nlohmann::ordered_json DescriptorJson(std::string_view media_type, const Digest& d, int64_t size);

// Uploads `bytes` to `repo` unless it has that blob already; its digest.
Result<Digest> PutSmallBlob(RegistryClient& client, const std::string& repo,
                            const std::string& bytes);

// PUTs `manifest` (an OCI image manifest with artifactType and subject
// `subject`) by digest into `repo`, then, when the registry lists no
// referrers itself, adds it to the referrers tag schema's index. Its digest.
Result<Digest> PushReferrer(RegistryClient& client, const std::string& repo, const Digest& subject,
                            const std::string& manifest, const std::string& artifact_type);

// The descriptors of the referrers of `subject` whose artifactType is
// `artifact_type` (all when empty): the API's answer, else the tag
// schema's index, else none.
Result<std::vector<nlohmann::json>> ListReferrers(RegistryClient& client, const std::string& repo,
                                                  const Digest& subject,
                                                  const std::string& artifact_type);

}  // namespace hoist::transfer
