#include "builder/sbom/inventory.h"

#include "builder/transfer/verify.h"
#include "common/packages/image_files.h"

namespace hoist::sbom {

using packages::ImageFiles;
using packages::Package;

Result<packages::ImageInventory> ReadInventory(transfer::ImageSource& src,
                                               const std::optional<transfer::Platform>& want) {
  Result<transfer::Manifest> top = src.TopManifest();
  if (!top.ok()) return top.status();
  transfer::Manifest image = *top;
  packages::ImageInventory inv;
  inv.name = src.Name();
  inv.digest = top->digest;
  Result<transfer::ManifestContents> contents = transfer::ParseManifest(image);
  if (!contents.ok()) return contents.status();
  if (top->is_index()) {
    const transfer::Platform p = want ? *want : transfer::Platform::Host();
    Result<transfer::Descriptor> d = transfer::SelectPlatform(*top, *contents, p);
    if (!d.ok()) return d.status();
    Result<transfer::Manifest> m = src.ChildManifest(*d);
    if (!m.ok()) return m.status();
    image = *m;
    inv.platform = p.String();
    contents = transfer::ParseManifest(image);
    if (!contents.ok()) return contents.status();
  }
  ImageFiles files;
  for (const transfer::Descriptor& d : contents->layers) {
    Result<std::unique_ptr<ByteSource>> blob = src.OpenBlob(d);
    if (!blob.ok()) return blob.status();
    transfer::VerifyingReader verified(std::move(*blob), d, src.Name());
    if (Status st = files.AddLayer(verified); !st.ok()) {
      return Status(st.code(), "layer " + d.Short() + ": " + st.message());
    }
  }
  if (const std::string* os = files.OsReleaseText()) inv.os = packages::ParseOsRelease(*os);
  auto add = [&](Result<std::vector<Package>> parsed, const std::string& path) -> Status {
    if (!parsed.ok())
      return Status(parsed.status().code(), "/" + path + ": " + parsed.status().message());
    inv.packages.insert(inv.packages.end(), parsed->begin(), parsed->end());
    return Status::Ok();
  };
  for (const auto& [path, text] : files.files()) {
    Status st = Status::Ok();
    if (path == "var/lib/dpkg/status" || path.rfind("var/lib/dpkg/status.d/", 0) == 0) {
      st = add(packages::ParseDpkgStatus(text), path);
    } else if (path == "lib/apk/db/installed") {
      st = add(packages::ParseApkInstalled(text), path);
    }
    if (!st.ok()) return st;
  }
  return inv;
}

}  // namespace hoist::sbom
