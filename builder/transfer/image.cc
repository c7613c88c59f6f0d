#include "builder/transfer/image.h"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "common/media_types.h"

namespace hoist::transfer {
namespace {

using nlohmann::json;

Result<Descriptor> ParseDescriptor(const json& j, std::string_view where) {
  auto bad = [&](std::string why) {
    return Status(Code::kManifestInvalid, std::string(where) + ": " + why);
  };
  if (!j.is_object()) return bad("descriptor is not an object");
  Descriptor d;
  if (j.contains("mediaType") && j["mediaType"].is_string()) d.media_type = j["mediaType"];
  if (!j.contains("digest") || !j["digest"].is_string()) return bad("descriptor without digest");
  Result<Digest> digest = Digest::Parse(j["digest"].get<std::string>());
  if (!digest.ok()) return bad(digest.status().message());
  d.digest = *digest;
  if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<int64_t>() < 0) {
    return bad("descriptor " + d.digest.str() + " without a valid size");
  }
  d.size = j["size"].get<int64_t>();
  if (j.contains("platform") && j["platform"].is_object()) {
    const json& p = j["platform"];
    Platform plat;
    plat.os = p.value("os", "");
    plat.architecture = p.value("architecture", "");
    plat.variant = p.value("variant", "");
    d.platform = plat;
  }
  d.foreign = (j.contains("urls") && j["urls"].is_array() && !j["urls"].empty()) ||
              d.media_type.find("foreign") != std::string::npos ||
              d.media_type.find("nondistributable") != std::string::npos;
  return d;
}

std::string NormalizeArch(std::string a) {
  if (a == "x86_64" || a == "x86-64") return "amd64";
  if (a == "aarch64") return "arm64";
  if (a == "armhf" || a == "armel" || a == "armv7l") return "arm";
  if (a == "i386" || a == "i686") return "386";
  return a;
}

}  // namespace

Result<Platform> Platform::Parse(std::string_view s) {
  Platform p;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    parts.emplace_back(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  bool ok = parts.size() >= 2 && parts.size() <= 3;
  for (const std::string& part : parts) ok = ok && !part.empty();
  if (!ok) {
    return Status(Code::kInvalidArgument,
                  "invalid platform \"" + std::string(s) + "\": want os/arch[/variant]");
  }
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p.Normalized();
}

Platform Platform::Host() {
  struct utsname u {};
  ::uname(&u);
  Platform p{"linux", u.machine, ""};
  if (std::string(u.machine) == "armv7l") p.variant = "v7";
  return p.Normalized();
}

Platform Platform::Normalized() const {
  Platform p = *this;
  p.architecture = NormalizeArch(p.architecture);
  if (p.architecture == "arm64" && p.variant == "v8") p.variant.clear();
  if (p.architecture == "amd64" && p.variant == "v1") p.variant.clear();
  if (p.architecture == "arm" && p.variant.empty()) p.variant = "v7";
  return p;
}

std::string Platform::String() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

bool Platform::Matches(const Platform& have) const {
  Platform a = Normalized(), b = have.Normalized();
  return a.os == b.os && a.architecture == b.architecture &&
         (variant.empty() || a.variant == b.variant);
}

bool Manifest::is_index() const {
  return media::IsIndexType(media_type);
}

Descriptor Manifest::descriptor() const {
  Descriptor d;
  d.media_type = media_type;
  d.digest = digest;
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

Result<Manifest> MakeManifest(std::string media_type, std::string bytes) {
  Manifest m;
  if (media_type.empty()) {
    json j = json::parse(bytes, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
      media_type = j["mediaType"];
    } else if (j.is_object() && j.contains("manifests")) {
      media_type = media::kOciIndex;
    } else if (j.is_object() && j.contains("config")) {
      media_type = media::kOciManifest;
    }
  }
  m.media_type = std::move(media_type);
  m.digest = DigestOf(bytes);
  m.bytes = std::move(bytes);
  return m;
}

Result<ManifestContents> ParseManifest(const Manifest& m) {
  const std::string where = "manifest " + m.digest.str();
  json j = json::parse(m.bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(Code::kManifestInvalid, where + " is not a JSON object");
  }
  if (j.value("schemaVersion", 0) == 1) {
    return Status(Code::kUnsupported, where + " is Docker schema 1, which hoist does not copy");
  }
  ManifestContents c;
  if (m.is_index()) {
    if (!j.contains("manifests") || !j["manifests"].is_array()) {
      return Status(Code::kManifestInvalid, where + ": index without \"manifests\"");
    }
    for (const json& e : j["manifests"]) {
      Result<Descriptor> d = ParseDescriptor(e, where);
      if (!d.ok()) return d.status();
      c.children.push_back(*d);
    }
    return c;
  }
  if (m.media_type != media::kOciManifest && m.media_type != media::kDockerManifest) {
    return Status(Code::kUnsupported,
                  where + " has unsupported media type \"" + m.media_type + "\"");
  }
  if (!j.contains("config")) return Status(Code::kManifestInvalid, where + " has no config");
  Result<Descriptor> config = ParseDescriptor(j["config"], where);
  if (!config.ok()) return config.status();
  c.config = *config;
  if (j.contains("layers")) {
    if (!j["layers"].is_array()) return Status(Code::kManifestInvalid, where + ": bad \"layers\"");
    for (const json& e : j["layers"]) {
      Result<Descriptor> d = ParseDescriptor(e, where);
      if (!d.ok()) return d.status();
      c.layers.push_back(*d);
    }
  }
  return c;
}

Result<Descriptor> SelectPlatform(const Manifest& index, const ManifestContents& contents,
                                  const Platform& want) {
  std::string have;
  for (const Descriptor& d : contents.children) {
    if (d.platform && want.Matches(*d.platform)) return d;
    if (d.platform) have += (have.empty() ? "" : ", ") + d.platform->Normalized().String();
  }
  return Status(Code::kManifestUnknown,
                "index " + index.digest.str() + " has no image for " + want.String() +
                    " (it has: " + (have.empty() ? std::string("none") : have) + ")");
}

}  // namespace hoist::transfer
