// An SPDX 2.3 JSON document of an image (spdx-spec v2.3, chapters 6
// "Document creation information", 7 "Package information", 11
// "Relationships"): the image as a CONTAINER package that DESCRIBES
// points at, its operating system (os-release) as OPERATING_SYSTEM, and
// every installed package with its version, licence where the database
// records one, supplier, source and purl (externalRefs PACKAGE-MANAGER),
// each CONTAINED by the image. Files are not analysed
// (filesAnalyzed: false).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/packages/database.h"

namespace hoist::packages {

struct ImageInventory {
  std::string name;  // the image as named ("127.0.0.1:5000/app:1")
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  std::string platform;  // "linux/amd64"
  OsRelease os;
  std::vector<Package> packages;
};

inline constexpr std::string_view kSpdxMediaType = "application/spdx+json";

// The document; `created` is its creation time (Unix seconds) and `tool`
// the creator ("hoist-0.2.0"). The namespace is a urn:uuid derived from
// the image digest and the time, so each document has its own.
std::string SpdxDocument(const ImageInventory& inv, int64_t created, const std::string& tool);

}  // namespace hoist::packages
