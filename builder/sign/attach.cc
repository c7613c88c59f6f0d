#include "builder/sign/attach.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "builder/transfer/image.h"
#include "builder/transfer/referrers.h"
#include "builder/transfer/verify.h"
#include "common/base64.h"
#include "common/io.h"
#include "common/json_fields.h"
#include "common/media_types.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "0.0.0"
#endif

namespace hoist::sign {
namespace {

using ordered_json = nlohmann::ordered_json;
using nlohmann::json;
using transfer::DescriptorJson;

// A signature manifest's config: an OCI image config whose rootfs lists
// each payload as a diff ID, as containers/image and cosign write it.
std::string SignatureConfig(const std::vector<std::string>& payload_digests) {
  ordered_json c = {{"architecture", ""},
                    {"os", ""},
                    {"config", ordered_json::object()},
                    {"rootfs", {{"type", "layers"}, {"diff_ids", payload_digests}}}};
  return c.dump();
}

// The layers of a signature manifest, or kManifestInvalid.
Result<json> SignatureLayers(const RemoteManifest& m, const std::string& what) {
  json j = json::parse(m.bytes, nullptr, false);
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) {
    return Status(Code::kManifestInvalid, what + " is not an image manifest with layers");
  }
  return j["layers"];
}

// A signature manifest's layers as StoredSignatures (blobs fetched).
Status ReadLayers(RegistryClient& client, const std::string& repo, const json& layers,
                  const std::string& where, std::vector<StoredSignature>* out) {
  for (const json& l : layers) {
    if (!l.is_object() || !l.value("digest", json()).is_string() ||
        !l.value("size", json()).is_number_integer()) {
      return Status(Code::kManifestInvalid, where + ": a layer without digest or size");
    }
    transfer::Descriptor d;
    d.media_type = StringField(l, "mediaType");
    Result<Digest> dg = Digest::Parse(l["digest"].get<std::string>());
    if (!dg.ok()) return Status(Code::kManifestInvalid, where + ": " + dg.status().message());
    d.digest = *dg;
    d.size = l["size"].get<int64_t>();
    if (d.size < 0 || d.size > kMaxSignatureBytes) {
      return Status(Code::kManifestInvalid,
                    where + ": a signature layer of " + std::to_string(d.size) + " bytes");
    }
    StoredSignature s;
    s.where = where;
    s.media_type = d.media_type;
    if (l.contains("annotations") && l["annotations"].is_object()) {
      s.signature = StringField(l["annotations"], std::string(kSignatureAnnotation).c_str());
    }
    Result<std::unique_ptr<ByteSource>> blob = client.OpenBlob(repo, d.digest, d.size);
    if (!blob.ok()) return blob.status();
    transfer::VerifyingReader verified(std::move(*blob), d, where);
    Result<std::string> bytes =
        transfer::ReadAllLimited(verified, static_cast<size_t>(kMaxSignatureBytes));
    if (!bytes.ok()) return bytes.status();
    s.payload = std::move(*bytes);
    bool merged = false;
    for (StoredSignature& o : *out) {
      if (o.payload == s.payload && o.signature == s.signature && o.media_type == s.media_type) {
        o.where += ", " + where;
        merged = true;
      }
    }
    if (!merged) out->push_back(std::move(s));
  }
  return Status::Ok();
}

}  // namespace

Result<RemoteManifest> ResolveImage(RegistryClient& client, const Reference& ref) {
  return client.GetManifest(ref.path(), ref.ManifestReference());
}

Result<SignResult> SignImage(RegistryClient& client, const Reference& ref, const PrivateKey& key,
                             const SignOptions& options) {
  const std::string repo = ref.path();
  client.PreferPushScope(repo);
  Result<RemoteManifest> image = ResolveImage(client, ref);
  if (!image.ok()) return image.status();
  SignResult out;
  out.image = image->digest;
  if (!options.identity.empty()) {
    out.identity = options.identity;
  } else {
    // The tag when the user named one (skopeo's default policy,
    // matchRepoDigestOrExact, wants name:tag), else name@digest.
    out.identity = ref.Name() + (ref.tag().empty() ? "@" + out.image.str() : ":" + ref.tag());
  }
  Claim claim;
  claim.docker_reference = out.identity;
  claim.digest = out.image;
  claim.creator = options.creator.empty() ? std::string("hoist ") + HOIST_VERSION : options.creator;
  claim.timestamp = static_cast<int64_t>(std::time(nullptr));
  const std::string payload = MakePayload(claim);
  Result<std::string> der = key.Sign(payload);
  if (!der.ok()) return der.status();
  const Digest payload_digest = DigestOf(payload);
  ordered_json layer =
      DescriptorJson(kSimpleSigningMediaType, payload_digest, static_cast<int64_t>(payload.size()));
  layer["annotations"] = {{kSignatureAnnotation, Base64Encode(*der)}};
  if (Result<Digest> put = transfer::PutSmallBlob(client, repo, payload); !put.ok()) {
    return put.status();
  }

  if (options.tag_scheme) {
    out.tag = SignatureTag(out.image);
    ordered_json layers = ordered_json::array();
    Result<RemoteManifest> existing = client.GetManifest(repo, out.tag);
    if (existing.ok()) {
      Result<json> old = SignatureLayers(*existing, repo + ":" + out.tag);
      if (!old.ok()) return old.status();
      for (const json& l : *old) layers.push_back(ordered_json::parse(l.dump()));
    } else if (existing.status().code() != Code::kManifestUnknown) {
      return existing.status();
    }
    std::vector<std::string> diff_ids;
    for (const ordered_json& l : layers) {
      if (StringField(l, "digest") == payload_digest.str() && l.contains("annotations") &&
          l["annotations"] == layer["annotations"]) {
        out.already_signed = true;
      }
      diff_ids.push_back(StringField(l, "digest"));
    }
    if (!out.already_signed) {
      layers.push_back(layer);
      diff_ids.push_back(payload_digest.str());
      const std::string config = SignatureConfig(diff_ids);
      Result<Digest> config_digest = transfer::PutSmallBlob(client, repo, config);
      if (!config_digest.ok()) return config_digest.status();
      ordered_json m = {{"schemaVersion", 2},
                        {"mediaType", media::kOciManifest},
                        {"config", DescriptorJson(media::kOciConfig, *config_digest,
                                                  static_cast<int64_t>(config.size()))},
                        {"layers", layers}};
      if (Status st = client.PutManifest(repo, out.tag, std::string(media::kOciManifest), m.dump());
          !st.ok()) {
        return st;
      }
    }
  }

  if (options.referrer) {
    // cosign's OCI 1.1 form: the artifact type also as the config's media
    // type, the config the same image config as the tag scheme's.
    const std::string config = SignatureConfig({payload_digest.str()});
    Result<Digest> config_digest = transfer::PutSmallBlob(client, repo, config);
    if (!config_digest.ok()) return config_digest.status();
    ordered_json m = {{"schemaVersion", 2},
                      {"mediaType", media::kOciManifest},
                      {"artifactType", kSignatureArtifactType},
                      {"config", DescriptorJson(kSignatureArtifactType, *config_digest,
                                                static_cast<int64_t>(config.size()))},
                      {"layers", ordered_json::array({layer})},
                      {"subject", DescriptorJson(image->media_type, image->digest,
                                                 static_cast<int64_t>(image->bytes.size()))}};
    Result<Digest> d = transfer::PushReferrer(client, repo, out.image, m.dump(),
                                              std::string(kSignatureArtifactType));
    if (!d.ok()) return d.status();
    out.referrer = *d;
  }
  return out;
}

Result<std::vector<StoredSignature>> FindSignatures(RegistryClient& client, const std::string& repo,
                                                    const Digest& image) {
  std::vector<StoredSignature> out;
  const std::string tag = SignatureTag(image);
  Result<RemoteManifest> tagged = client.GetManifest(repo, tag);
  if (tagged.ok()) {
    Result<json> layers = SignatureLayers(*tagged, repo + ":" + tag);
    if (!layers.ok()) return layers.status();
    if (Status st = ReadLayers(client, repo, *layers, "tag " + tag, &out); !st.ok()) return st;
  } else if (tagged.status().code() != Code::kManifestUnknown) {
    return tagged.status();
  }
  Result<std::vector<json>> referrers =
      transfer::ListReferrers(client, repo, image, std::string(kSignatureArtifactType));
  if (!referrers.ok()) return referrers.status();
  for (const json& e : *referrers) {
    const std::string digest = StringField(e, "digest");
    Result<RemoteManifest> m = client.GetManifest(repo, digest);
    if (!m.ok()) return m.status();
    Result<json> layers = SignatureLayers(*m, repo + "@" + digest);
    if (!layers.ok()) return layers.status();
    if (Status st = ReadLayers(client, repo, *layers, "referrer " + digest.substr(0, 19), &out);
        !st.ok()) {
      return st;
    }
  }
  return out;
}

}  // namespace hoist::sign
