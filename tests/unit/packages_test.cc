// common/packages/database.h and image_files.h: package databases as dpkg
// and apk write them, os-release, purls, and the files of layered images
// (tar layers written here with libarchive, whiteouts included).
#include <archive.h>
#include <archive_entry.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/io.h"
#include "common/packages/database.h"
#include "common/packages/image_files.h"
#include "common/packages/osv.h"

namespace hoist::packages {
namespace {

const char* kDpkgStatus = R"(Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
Homepage: https://www.gnu.org/software/libc/libc.html

Package: old-config
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: libzstd1
Status: install ok installed
Architecture: amd64
Source: libzstd (1.5.4+dfsg2-5)
Version: 1.5.4+dfsg2-5+b1

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
)";

TEST_CASE("dpkg status: installed packages, their sources", "[packages]") {
  Result<std::vector<Package>> p = ParseDpkgStatus(kDpkgStatus);
  REQUIRE(p.ok());
  REQUIRE(p->size() == 3);  // not the one with only config files left
  CHECK((*p)[0].name == "libc6");
  CHECK((*p)[0].version == "2.36-9+deb12u4");
  CHECK((*p)[0].arch == "amd64");
  CHECK((*p)[0].source_name == "glibc");
  CHECK((*p)[0].source_version == "2.36-9+deb12u4");
  CHECK((*p)[0].homepage == "https://www.gnu.org/software/libc/libc.html");
  CHECK((*p)[1].name == "libzstd1");
  CHECK((*p)[1].source_name == "libzstd");
  CHECK((*p)[1].source_version == "1.5.4+dfsg2-5");
  CHECK((*p)[2].source_name == "base-files");
  CHECK((*p)[2].source_version == "12.4+deb12u5");
  CHECK(ParseDpkgStatus("").value().empty());
  Result<std::vector<Package>> bad = ParseDpkgStatus("Package: x\nno colon here\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() == "dpkg status line 2: not \"Field: value\"");
  CHECK_FALSE(ParseDpkgStatus("Status: install ok installed\nPackage: x\n").ok());  // no Version
}

TEST_CASE("apk installed: packages, origins and licences", "[packages]") {
  Result<std::vector<Package>> p = ParseApkInstalled(
      "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nL:MIT\no:musl\nm:Maintainer "
      "<m@example.org>\n"
      "F:lib\nR:ld-musl-x86_64.so.1\n\n"
      "P:libcrypto3\nV:3.1.4-r1\nA:x86_64\nL:Apache-2.0\no:openssl\nU:https://www.openssl.org/\n");
  REQUIRE(p.ok());
  REQUIRE(p->size() == 2);
  CHECK((*p)[0].type == PackageType::kApk);
  CHECK((*p)[0].name == "musl");
  CHECK((*p)[0].license == "MIT");
  CHECK((*p)[1].source_name == "openssl");
  CHECK((*p)[1].version == "3.1.4-r1");
  CHECK_FALSE(ParseApkInstalled("P:x\nnot a line\n").ok());
  CHECK_FALSE(ParseApkInstalled("P:x\n\n").ok());  // no V:
}

TEST_CASE("os-release and purls", "[packages]") {
  OsRelease os = ParseOsRelease(
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"
      "VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n# comment\n");
  CHECK(os.id == "debian");
  CHECK(os.version_id == "12");
  CHECK(os.pretty_name == "Debian GNU/Linux 12 (bookworm)");
  CHECK(os.codename == "bookworm");
  Package p;
  p.name = "libzstd1";
  p.version = "1.5.4+dfsg2-5+b1";
  p.arch = "amd64";
  p.source_name = "libzstd";
  p.source_version = "1.5.4+dfsg2-5";
  CHECK(Purl(p, os) ==
        "pkg:deb/debian/libzstd1@1.5.4%2Bdfsg2-5%2Bb1?arch=amd64&distro=debian-12&upstream="
        "libzstd%401.5.4%2Bdfsg2-5");
  p.name = "attr";
  p.version = "1:2.5.1-4";
  p.source_name = "attr";
  p.source_version = p.version;
  CHECK(Purl(p, os) == "pkg:deb/debian/attr@1:2.5.1-4?arch=amd64&distro=debian-12");
  Package a;
  a.type = PackageType::kApk;
  a.name = "musl";
  a.version = "1.2.4-r2";
  a.arch = "x86_64";
  CHECK(Purl(a, ParseOsRelease("ID=alpine\nVERSION_ID=3.18.4\n")) ==
        "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.18.4");
}

// A tar layer (gzip-compressed when `gzip`) of regular files, symlinks
// ("->target") and whiteouts (names as given).
std::string Layer(const std::vector<std::pair<std::string, std::string>>& entries, bool gzip) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* d, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(d)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const auto& [path, content] : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    if (content.rfind("->", 0) == 0) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, content.substr(2).c_str());
      archive_entry_set_perm(e, 0777);
      archive_write_header(a, e);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
      archive_write_header(a, e);
      archive_write_data(a, content.data(), content.size());
    }
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

Status Apply(ImageFiles& f, const std::string& layer) {
  StringSource src(layer, 1000);
  return f.AddLayer(src);
}

TEST_CASE("image files: upper layers win, whiteouts remove", "[packages]") {
  ImageFiles f;
  REQUIRE(Apply(f, Layer({{"./etc/os-release", "->../usr/lib/os-release"},
                          {"./usr/lib/os-release", "ID=debian\n"},
                          {"./var/lib/dpkg/status", "one"},
                          {"./var/lib/dpkg/status.d/a", "A"},
                          {"./var/lib/dpkg/status.d/b", "B"},
                          {"./usr/bin/other", "not kept"}},
                         true))
              .ok());
  CHECK(*f.OsReleaseText() == "ID=debian\n");  // the link's target
  CHECK(*f.Find("var/lib/dpkg/status") == "one");
  CHECK(f.Find("usr/bin/other") == nullptr);
  CHECK(f.files().size() == 4);
  REQUIRE(Apply(f, Layer({{"var/lib/dpkg/status", "two"},
                          {"var/lib/dpkg/status.d/.wh.a", ""},
                          {"etc/os-release", "ID=alpine\n"}},
                         false))
              .ok());
  CHECK(*f.Find("var/lib/dpkg/status") == "two");
  CHECK(f.Find("var/lib/dpkg/status.d/a") == nullptr);
  CHECK(*f.Find("var/lib/dpkg/status.d/b") == "B");
  CHECK(*f.OsReleaseText() == "ID=alpine\n");
  // An opaque directory hides what is below it; the same layer's new
  // files stay.
  REQUIRE(Apply(f, Layer({{"var/lib/dpkg/status.d/.wh..wh..opq", ""},
                          {"var/lib/dpkg/status.d/c", "C"},
                          {"var/lib/.wh.dpkg", ""}},
                         true))
              .ok());
  CHECK(f.Find("var/lib/dpkg/status") == nullptr);
  CHECK(f.Find("var/lib/dpkg/status.d/b") == nullptr);
  CHECK(*f.Find("var/lib/dpkg/status.d/c") == "C");
  StringSource junk("this is not a tar stream at all, not even close to one");
  CHECK(f.AddLayer(junk).code() == Code::kInvalidArgument);
}

TEST_CASE("rpm headers: malformed ones are refused", "[packages]") {
  CHECK_FALSE(ParseRpmHeader("").ok());
  CHECK_FALSE(ParseRpmHeader(std::string("\0\0\0\x01\0\0\0\x10", 8)).ok());  // entries missing
  // One entry (NAME, STRING at 0) and no VERSION.
  std::string blob("\0\0\0\x01\0\0\0\x04", 8);
  blob += std::string("\0\0\x03\xe8\0\0\0\x06\0\0\0\0\0\0\0\x01", 16);
  blob += std::string("abc\0", 4);
  Result<Package> p = ParseRpmHeader(blob);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().message() == "rpm header: no NAME or VERSION");
  CHECK_FALSE(ParseRpmDb("not a database").ok());
}

TEST_CASE("CVSS v3 base scores as FIRST's calculator gives them", "[packages]") {
  auto score = [](const char* v) { return CvssV3BaseScore(v).value(); };
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == Approx(9.8));
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H") == Approx(10.0));
  CHECK(score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N") == Approx(5.5));
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == Approx(6.1));
  CHECK(score("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N") == Approx(5.9));
  CHECK(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N") == Approx(0.0));
  CHECK_FALSE(CvssV3BaseScore("CVSS:2.0/AV:N").ok());
  CHECK_FALSE(CvssV3BaseScore("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").ok());
  CHECK(ParseSeverity("high").value() == Severity::kHigh);
  CHECK_FALSE(ParseSeverity("severe").ok());
}

}  // namespace
}  // namespace hoist::packages
