#include "common/packages/spdx.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace hoist::packages {
namespace {

using ordered_json = nlohmann::ordered_json;

// SPDXRef-<idstring>: letters, digits, "." and "-" only (spec 3.2).
std::string SpdxId(const std::string& s) {
  std::string out = "SPDXRef-";
  for (unsigned char c : s)
    out += std::isalnum(c) || c == '.' || c == '-' ? static_cast<char>(c) : '-';
  return out;
}

// A licence as recorded when it reads as an SPDX expression (identifiers,
// AND/OR/WITH, parentheses), else NOASSERTION: "custom" or free text is
// not one.
std::string LicenseExpression(const std::string& l) {
  if (l.empty()) return "NOASSERTION";
  for (unsigned char c : l) {
    if (!(std::isalnum(c) || c == '.' || c == '-' || c == '+' || c == ' ' || c == '(' ||
          c == ')')) {
      return "NOASSERTION";
    }
  }
  if (l == "custom" || l.find("custom") != std::string::npos) return "NOASSERTION";
  return l;
}

// "Name <mail>" as SPDX's "Organization: Name (mail)".
std::string Supplier(const std::string& maintainer) {
  if (maintainer.empty()) return "NOASSERTION";
  const size_t lt = maintainer.find('<'), gt = maintainer.find('>');
  std::string name = maintainer.substr(0, lt), mail;
  while (!name.empty() && name.back() == ' ') name.pop_back();
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) {
    mail = maintainer.substr(lt + 1, gt - lt - 1);
  }
  return "Organization: " + name + (mail.empty() ? "" : " (" + mail + ")");
}

// An RFC 9562 version 8 UUID from the leading bytes of a digest.
std::string UuidFrom(const Digest& d) {
  std::string h = d.hex().substr(0, 32);
  h[12] = '8';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

}  // namespace

std::string SpdxDocument(const ImageInventory& inv, int64_t created, const std::string& tool) {
  const std::string image_id = SpdxId("Image-" + inv.digest.hex().substr(0, 12));
  ordered_json doc = {
      {"spdxVersion", "SPDX-2.3"},
      {"dataLicense", "CC0-1.0"},
      {"SPDXID", "SPDXRef-DOCUMENT"},
      {"name", inv.name + "@" + inv.digest.str()},
      {"documentNamespace",
       "urn:uuid:" + UuidFrom(DigestOf(inv.digest.str() + " " + std::to_string(created)))},
      {"creationInfo", {{"created", FormatUtcSeconds(created)}, {"creators", {"Tool: " + tool}}}},
      {"packages", ordered_json::array()},
      {"relationships", ordered_json::array()}};
  ordered_json& pkgs = doc["packages"];
  ordered_json& rels = doc["relationships"];
  auto contains = [&](const std::string& id) {
    rels.push_back({{"spdxElementId", image_id},
                    {"relationshipType", "CONTAINS"},
                    {"relatedSpdxElement", id}});
  };
  ordered_json image = {
      {"SPDXID", image_id},
      {"name", inv.name},
      {"versionInfo", inv.digest.str()},
      {"downloadLocation", "NOASSERTION"},
      {"filesAnalyzed", false},
      {"checksums", {{{"algorithm", "SHA256"}, {"checksumValue", inv.digest.hex()}}}},
      {"primaryPackagePurpose", "CONTAINER"}};
  if (!inv.platform.empty()) image["comment"] = "platform " + inv.platform;
  pkgs.push_back(image);
  rels.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"},
                  {"relationshipType", "DESCRIBES"},
                  {"relatedSpdxElement", image_id}});
  if (!inv.os.id.empty()) {
    const std::string os_id = SpdxId("OperatingSystem-" + inv.os.id);
    ordered_json os = {{"SPDXID", os_id},
                       {"name", inv.os.id},
                       {"versionInfo", inv.os.version_id},
                       {"downloadLocation", "NOASSERTION"},
                       {"filesAnalyzed", false},
                       {"primaryPackagePurpose", "OPERATING_SYSTEM"}};
    if (!inv.os.pretty_name.empty()) os["description"] = inv.os.pretty_name;
    pkgs.push_back(os);
    contains(os_id);
  }
  int n = 0;
  for (const Package& p : inv.packages) {
    const char* kind = p.type == PackageType::kDeb   ? "Package-deb-"
                       : p.type == PackageType::kRpm ? "Package-rpm-"
                                                     : "Package-apk-";
    const std::string id = SpdxId(kind + p.name + "-" + std::to_string(++n));
    ordered_json e = {{"SPDXID", id},
                      {"name", p.name},
                      {"versionInfo", p.epoch.empty() ? p.version : p.epoch + ":" + p.version},
                      {"supplier", Supplier(p.supplier)},
                      {"downloadLocation", "NOASSERTION"},
                      {"filesAnalyzed", false},
                      {"licenseConcluded", "NOASSERTION"},
                      {"licenseDeclared", LicenseExpression(p.license)},
                      {"copyrightText", "NOASSERTION"}};
    if (!p.homepage.empty()) e["homepage"] = p.homepage;
    if (p.source_name != p.name || p.source_version != p.version) {
      e["sourceInfo"] = "built package from: " + p.source_name + " " + p.source_version;
    }
    e["externalRefs"] = {{{"referenceCategory", "PACKAGE-MANAGER"},
                          {"referenceType", "purl"},
                          {"referenceLocator", Purl(p, inv.os)}}};
    pkgs.push_back(e);
    contains(id);
  }
  return doc.dump(2) + "\n";
}

}  // namespace hoist::packages
