// The few files of an image's filesystem that say what is installed
// (database.h), read from its layers as a container runtime would see
// them: layers applied bottom to top, later files over earlier ones,
// whiteouts (".wh.NAME" removes NAME, ".wh..wh..opq" empties its
// directory) removing what lower layers had (image-spec layer.md,
// "Whiteouts"). Layers are tar streams, gzip- or zstd-compressed or not
// (libarchive detects which).
#pragma once

#include <map>
#include <string>

#include "common/io.h"
#include "common/packages/database.h"
#include "common/status.h"

namespace hoist::packages {

class ImageFiles {
 public:
  // Applies the next layer up. kInvalidArgument when it is not a tar
  // stream; the stream's own errors as they are.
  Status AddLayer(ByteSource& layer);

  // The files kept, by path without a leading "/" ("var/lib/dpkg/status",
  // "var/lib/dpkg/status.d/zlib1g"): those of kPaths and any under
  // kDirectories.
  const std::map<std::string, std::string>& files() const { return files_; }
  // The content of `path`, or nullptr.
  const std::string* Find(const std::string& path) const;
  // The os-release text: /etc/os-release, else /usr/lib/os-release (the
  // first is often a link to the second); nullptr when neither exists.
  const std::string* OsReleaseText() const;

  static constexpr const char* kPaths[] = {"etc/os-release",
                                           "usr/lib/os-release",
                                           "var/lib/dpkg/status",
                                           "lib/apk/db/installed",
                                           "etc/alpine-release",
                                           "var/lib/rpm/rpmdb.sqlite",
                                           "usr/lib/sysimage/rpm/rpmdb.sqlite"};
  static constexpr const char* kDirectories[] = {"var/lib/dpkg/status.d/"};
  // Larger files are refused (a package database is a few MiB).
  static constexpr int64_t kMaxFileBytes = 256 << 20;

 private:
  std::map<std::string, std::string> files_;
};

// What an image's files say: its OS and every package its databases
// record (dpkg, apk, rpm). kInvalidArgument naming the file that does not
// parse.
struct Installed {
  OsRelease os;
  std::vector<Package> packages;
};
Result<Installed> ReadInstalled(const ImageFiles& files);

}  // namespace hoist::packages
