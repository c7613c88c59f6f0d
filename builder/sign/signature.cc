#include "builder/sign/signature.h"

#include <nlohmann/json.hpp>
#include <set>

#include "common/base64.h"

namespace hoist::sign {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

Status Bad(const std::string& why) {
  return Status(Code::kInvalidArgument, "payload: " + why);
}

// True when `o` is an object with exactly the keys in `want`.
bool HasExactly(const json& o, const std::set<std::string>& want) {
  if (!o.is_object() || o.size() != want.size()) return false;
  for (const auto& [k, v] : o.items()) {
    if (want.count(k) == 0) return false;
  }
  return true;
}

}  // namespace

std::string MakePayload(const Claim& c) {
  ordered_json optional = nullptr;
  if (!c.creator.empty() || c.timestamp != 0) {
    optional = ordered_json::object();
    if (!c.creator.empty()) optional["creator"] = c.creator;
    if (c.timestamp != 0) optional["timestamp"] = c.timestamp;
  }
  ordered_json p = {{"critical",
                     {{"identity", {{"docker-reference", c.docker_reference}}},
                      {"image", {{"docker-manifest-digest", c.digest.str()}}},
                      {"type", kCosignSignatureType}}},
                    {"optional", optional}};
  return p.dump();
}

Result<Claim> ParsePayload(std::string_view payload) {
  json p = json::parse(payload, nullptr, false);
  if (p.is_discarded()) return Bad("not JSON");
  if (!HasExactly(p, {"critical", "optional"})) {
    return Bad("want exactly \"critical\" and \"optional\" at the top");
  }
  const json& crit = p["critical"];
  if (!HasExactly(crit, {"type", "image", "identity"})) {
    return Bad("want exactly \"type\", \"image\" and \"identity\" in \"critical\"");
  }
  if (!crit["type"].is_string() || crit["type"].get<std::string>() != kCosignSignatureType) {
    return Bad("critical.type is not \"" + std::string(kCosignSignatureType) + "\"");
  }
  if (!HasExactly(crit["image"], {"docker-manifest-digest"}) ||
      !crit["image"]["docker-manifest-digest"].is_string()) {
    return Bad("critical.image wants exactly a docker-manifest-digest string");
  }
  if (!HasExactly(crit["identity"], {"docker-reference"}) ||
      !crit["identity"]["docker-reference"].is_string()) {
    return Bad("critical.identity wants exactly a docker-reference string");
  }
  Result<Digest> d = Digest::Parse(crit["image"]["docker-manifest-digest"].get<std::string>());
  if (!d.ok()) return Bad("critical.image.docker-manifest-digest: " + d.status().message());
  Claim c;
  c.digest = *d;
  c.docker_reference = crit["identity"]["docker-reference"].get<std::string>();
  const json& opt = p["optional"];
  if (!opt.is_null() && !opt.is_object()) return Bad("optional is neither null nor an object");
  if (opt.is_object()) {
    if (opt.contains("creator")) {
      if (!opt["creator"].is_string()) return Bad("optional.creator is not a string");
      c.creator = opt["creator"].get<std::string>();
    }
    if (opt.contains("timestamp")) {
      if (!opt["timestamp"].is_number_integer()) return Bad("optional.timestamp is not an integer");
      c.timestamp = opt["timestamp"].get<int64_t>();
    }
  }
  return c;
}

std::string SignatureTag(const Digest& image) {
  return std::string(image.algorithm_name()) + "-" + image.hex() + ".sig";
}

Verdict Check(const StoredSignature& s, const Digest& image, const std::vector<NamedKey>& keys,
              std::string_view identity) {
  Verdict v;
  if (s.media_type != kSimpleSigningMediaType) {
    v.reason = "not a signature (media type " + s.media_type + ")";
    return v;
  }
  if (s.signature.empty()) {
    v.reason = "no " + std::string(kSignatureAnnotation) + " annotation";
    return v;
  }
  Result<std::string> der = Base64Decode(s.signature);
  if (!der.ok()) {
    v.reason = "the signature annotation is not base64";
    return v;
  }
  // Cryptography first, as containers/image does: nothing of an unverified
  // payload is believed.
  for (const NamedKey& k : keys) {
    if (k.key.Verify(s.payload, *der)) {
      v.key = k.name;
      break;
    }
  }
  if (v.key.empty()) {
    v.reason = keys.size() == 1 ? "the key does not verify it" : "none of the keys verifies it";
    return v;
  }
  Result<Claim> c = ParsePayload(s.payload);
  if (!c.ok()) {
    v.reason = c.status().message();
    return v;
  }
  v.claim = *c;
  if (!(c->digest == image)) {
    v.reason = "it signs " + c->digest.str() + ", not this image";
    return v;
  }
  if (!identity.empty() && c->docker_reference != identity) {
    v.reason = "it signs the identity " + c->docker_reference + ", not " + std::string(identity);
    return v;
  }
  v.valid = true;
  return v;
}

}  // namespace hoist::sign
