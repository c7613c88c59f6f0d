#include "builder/transfer/referrers.h"

#include "common/io.h"
#include "common/json_fields.h"
#include "common/media_types.h"

namespace hoist::transfer {
namespace {

using nlohmann::json;

std::string ReferrersTag(const Digest& d) {
  return std::string(d.algorithm_name()) + "-" + d.hex();
}

// The referrers index of `subject`: the API's, else the tag schema's
// (empty when absent). `api` says which.
Result<json> ReferrersIndex(RegistryClient& client, const std::string& repo, const Digest& subject,
                            const std::string& artifact_type, bool* api) {
  Result<std::optional<std::string>> listed = client.Referrers(repo, subject, artifact_type);
  if (!listed.ok()) return listed.status();
  std::string bytes;
  *api = listed->has_value();
  if (*api) {
    bytes = **listed;
  } else {
    Result<RemoteManifest> tagged = client.GetManifest(repo, ReferrersTag(subject));
    if (!tagged.ok() && tagged.status().code() != Code::kManifestUnknown) return tagged.status();
    if (tagged.ok()) bytes = tagged->bytes;
  }
  if (bytes.empty()) {
    return json{
        {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", json::array()}};
  }
  json idx = json::parse(bytes, nullptr, false);
  if (!idx.is_object() || !idx.contains("manifests") || !idx["manifests"].is_array()) {
    return Status(Code::kManifestInvalid, "the referrers index of " + repo + "@" + subject.str() +
                                              " is not an image index");
  }
  return idx;
}

}  // namespace

nlohmann::ordered_json DescriptorJson(std::string_view media_type, const Digest& d, int64_t size) {
  return {{"mediaType", media_type}, {"digest", d.str()}, {"size", size}};
}

Result<Digest> PutSmallBlob(RegistryClient& client, const std::string& repo,
                            const std::string& bytes) {
  const Digest d = DigestOf(bytes);
  Result<std::optional<int64_t>> have = client.HeadBlob(repo, d);
  if (!have.ok()) return have.status();
  if (*have && **have == static_cast<int64_t>(bytes.size())) return d;
  Status st = client.PushBlob(repo, d, static_cast<int64_t>(bytes.size()),
                              [&]() -> Result<std::unique_ptr<ByteSource>> {
                                return std::unique_ptr<ByteSource>(new StringSource(bytes));
                              });
  if (!st.ok()) return st;
  return d;
}

Result<Digest> PushReferrer(RegistryClient& client, const std::string& repo, const Digest& subject,
                            const std::string& manifest, const std::string& artifact_type) {
  const Digest d = DigestOf(manifest);
  if (Status st = client.PutManifest(repo, d.str(), std::string(media::kOciManifest), manifest);
      !st.ok()) {
    return st;
  }
  bool api = false;
  Result<json> idx = ReferrersIndex(client, repo, subject, artifact_type, &api);
  if (!idx.ok()) return idx.status();
  if (api) return d;
  for (const json& e : (*idx)["manifests"]) {
    if (StringField(e, "digest") == d.str()) return d;  // listed already
  }
  json entry = DescriptorJson(media::kOciManifest, d, static_cast<int64_t>(manifest.size()));
  entry["artifactType"] = artifact_type;
  (*idx)["manifests"].push_back(entry);
  if (Status st = client.PutManifest(repo, ReferrersTag(subject), std::string(media::kOciIndex),
                                     idx->dump());
      !st.ok()) {
    return st;
  }
  return d;
}

Result<std::vector<json>> ListReferrers(RegistryClient& client, const std::string& repo,
                                        const Digest& subject, const std::string& artifact_type) {
  bool api = false;
  Result<json> idx = ReferrersIndex(client, repo, subject, artifact_type, &api);
  if (!idx.ok()) return idx.status();
  std::vector<json> out;
  for (const json& e : (*idx)["manifests"]) {
    // The filter is the registry's to apply, and the tag schema has none.
    if (!artifact_type.empty() && StringField(e, "artifactType") != artifact_type) continue;
    out.push_back(e);
  }
  return out;
}

}  // namespace hoist::transfer
