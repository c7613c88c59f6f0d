// What an image's package managers record as installed, read from their
// own databases (never guessed from file names), and the operating system
// it says it is:
//
// - dpkg: /var/lib/dpkg/status, and one file per package under
//   /var/lib/dpkg/status.d/ (distroless images); deb-control(5) stanzas,
//   only those whose Status is "install ok installed". Binary name,
//   version, architecture, and the source package ("Source: name
//   [(version)]", absent when it is the binary's).
// - apk: /lib/apk/db/installed; apk-tools' "X:value" lines, a blank line
//   between packages (P name, V version, A arch, o origin, L licence,
//   m maintainer, U url).
// - rpm: the sqlite database of rpm >= 4.16 (/var/lib/rpm/rpmdb.sqlite,
//   /usr/lib/sysimage/rpm/rpmdb.sqlite), table Packages, one header blob
//   per package (rpm's lib/header.c layout: entry count and data size,
//   16-byte index entries, then the data); NAME, EPOCH, VERSION, RELEASE,
//   ARCH, LICENSE, VENDOR, SOURCERPM. The public keys rpm keeps as
//   gpg-pubkey packages are left out.
// - os-release(5): /etc/os-release, else /usr/lib/os-release.
//
// Package URLs follow the purl specification's deb and apk types:
// pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12,
// pkg:apk/alpine/NAME@VERSION?arch=ARCH&distro=alpine-3.18.4,
// pkg:rpm/fedora/NAME@VERSION-RELEASE?arch=ARCH&distro=fedora-40&epoch=1 (qualifiers
// sorted, everything but [A-Za-z0-9.-_~:] percent-encoded).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/packages/version.h"
#include "common/status.h"

namespace hoist::packages {

enum class PackageType { kDeb, kApk, kRpm };

struct Package {
  PackageType type = PackageType::kDeb;
  std::string name;
  std::string version;  // rpm: VERSION-RELEASE
  std::string epoch;    // rpm's EPOCH when it has one (dpkg's is part of version)
  std::string arch;
  std::string source_name;     // the source package (= name when not recorded)
  std::string source_version;  // its version (= version when not recorded)
  std::string license;         // as recorded (apk); empty when not
  std::string supplier;        // maintainer, as recorded
  std::string homepage;
};

struct OsRelease {
  std::string id;           // "debian", "alpine", "ubuntu"
  std::string version_id;   // "12", "3.18.4"
  std::string pretty_name;  // "Debian GNU/Linux 12 (bookworm)"
  std::string codename;     // VERSION_CODENAME
};

// kInvalidArgument naming the line for text that is not the format.
Result<std::vector<Package>> ParseDpkgStatus(std::string_view text);
Result<std::vector<Package>> ParseApkInstalled(std::string_view text);
// `db` is the bytes of an rpmdb.sqlite file.
Result<std::vector<Package>> ParseRpmDb(std::string_view db);
// One header blob of that database.
Result<Package> ParseRpmHeader(std::string_view blob);
OsRelease ParseOsRelease(std::string_view text);

// The package URL of `p` on the system `os`.
std::string Purl(const Package& p, const OsRelease& os);
// How the package manager of `p` orders versions; nullopt for rpm (not
// scanned yet).
std::optional<VersionScheme> SchemeOf(const Package& p);

}  // namespace hoist::packages
