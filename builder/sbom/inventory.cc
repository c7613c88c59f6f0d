#include "builder/sbom/inventory.h"

#include <ctime>

#include "builder/transfer/referrers.h"
#include "builder/transfer/verify.h"
#include "common/media_types.h"
#include "common/packages/image_files.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "0.0.0"
#endif

namespace hoist::sbom {

using packages::ImageFiles;

Result<packages::ImageInventory> ReadInventory(transfer::ImageSource& src,
                                               const std::optional<transfer::Platform>& want,
                                               transfer::Manifest* inventoried) {
  Result<transfer::Manifest> top = src.TopManifest();
  if (!top.ok()) return top.status();
  transfer::Manifest image = *top;
  std::string platform;
  if (top->is_index()) {
    Result<transfer::ManifestContents> contents = transfer::ParseManifest(*top);
    if (!contents.ok()) return contents.status();
    const transfer::Platform p = want ? *want : transfer::Platform::Host();
    Result<transfer::Descriptor> d = transfer::SelectPlatform(*top, *contents, p);
    if (!d.ok()) return d.status();
    Result<transfer::Manifest> m = src.ChildManifest(*d);
    if (!m.ok()) return m.status();
    image = *m;
    platform = p.String();
  }
  Result<packages::ImageInventory> inv = ReadInventoryOf(src, image);
  if (!inv.ok()) return inv.status();
  inv->digest = top->digest;
  inv->platform = platform;
  if (inventoried != nullptr) *inventoried = image;
  return inv;
}

Result<packages::ImageInventory> ReadInventoryOf(transfer::ImageSource& src,
                                                 const transfer::Manifest& image) {
  packages::ImageInventory inv;
  inv.name = src.Name();
  inv.digest = image.digest;
  Result<transfer::ManifestContents> contents = transfer::ParseManifest(image);
  if (!contents.ok()) return contents.status();
  ImageFiles files;
  for (const transfer::Descriptor& d : contents->layers) {
    Result<std::unique_ptr<ByteSource>> blob = src.OpenBlob(d);
    if (!blob.ok()) return blob.status();
    transfer::VerifyingReader verified(std::move(*blob), d, src.Name());
    if (Status st = files.AddLayer(verified); !st.ok()) {
      return Status(st.code(), "layer " + d.Short() + ": " + st.message());
    }
  }
  Result<packages::Installed> installed = packages::ReadInstalled(files);
  if (!installed.ok()) return installed.status();
  inv.os = installed->os;
  inv.packages = std::move(installed->packages);
  return inv;
}

std::string SpdxNow(const packages::ImageInventory& inv) {
  return packages::SpdxDocument(inv, static_cast<int64_t>(std::time(nullptr)),
                                std::string("hoist-") + HOIST_VERSION);
}

Result<Digest> AttachSbom(RegistryClient& client, const std::string& repo,
                          const transfer::Manifest& subject, const std::string& doc) {
  // image-spec v1.1's empty descriptor: the blob "{}".
  Result<Digest> empty = transfer::PutSmallBlob(client, repo, "{}");
  if (!empty.ok()) return empty.status();
  Result<Digest> layer = transfer::PutSmallBlob(client, repo, doc);
  if (!layer.ok()) return layer.status();
  const std::string type(packages::kSpdxMediaType);
  nlohmann::ordered_json m = {
      {"schemaVersion", 2},
      {"mediaType", media::kOciManifest},
      {"artifactType", type},
      {"config", transfer::DescriptorJson(media::kOciEmpty, *empty, 2)},
      {"layers", {transfer::DescriptorJson(type, *layer, static_cast<int64_t>(doc.size()))}},
      {"subject", transfer::DescriptorJson(subject.media_type, subject.digest,
                                           static_cast<int64_t>(subject.bytes.size()))}};
  return transfer::PushReferrer(client, repo, subject.digest, m.dump(), type);
}

Result<std::vector<Digest>> AttachSboms(transfer::ImageSource& src, RegistryClient& client,
                                        const std::string& repo, const std::string& name) {
  Result<transfer::Manifest> top = src.TopManifest();
  if (!top.ok()) return top.status();
  std::vector<transfer::Manifest> images;
  if (top->is_index()) {
    Result<transfer::ManifestContents> contents = transfer::ParseManifest(*top);
    if (!contents.ok()) return contents.status();
    for (const transfer::Descriptor& d : contents->children) {
      Result<transfer::Manifest> m = src.ChildManifest(d);
      if (!m.ok()) return m.status();
      if (!m->is_index()) images.push_back(*m);
    }
  } else {
    images.push_back(*top);
  }
  std::vector<Digest> out;
  for (const transfer::Manifest& image : images) {
    Result<std::vector<nlohmann::json>> have =
        transfer::ListReferrers(client, repo, image.digest, std::string(packages::kSpdxMediaType));
    if (!have.ok()) return have.status();
    if (!have->empty()) continue;
    Result<packages::ImageInventory> inv = ReadInventoryOf(src, image);
    if (!inv.ok()) return inv.status();
    inv->name = name;
    Result<Digest> d = AttachSbom(client, repo, image, SpdxNow(*inv));
    if (!d.ok()) return d.status();
    out.push_back(*d);
  }
  return out;
}

}  // namespace hoist::sbom
