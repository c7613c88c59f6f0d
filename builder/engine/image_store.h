// Images in the local content store (store/content_store.h): the index of
// local names (`hoist build -t NAME` keeps its image under NAME), and the
// store as an ImageSource / ImageSink (transfer/source.h), so pushing a
// built image and pulling a base image are plain transfer::Copy calls:
//
//   Copy(RemoteSource(base), StoreImageSink)        pull into the store
//   Copy(StoreImageSource(built), RemoteSink(-t))   push a build
//   Copy(StoreImageSource(built), LayoutSink)       --output oci:DIR
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "builder/store/content_store.h"
#include "builder/transfer/source.h"
#include "common/status.h"

namespace hoist::engine {

// What images.json holds.
struct ImageIndexContents {
  // Local names (normalised references) -> the manifest or index they name.
  std::map<std::string, transfer::Descriptor> names;
  // Images kept without a name, by manifest digest: docker's "<none>"
  // images (a build without -t, an image whose last tag moved away). The
  // Engine API (`hoist engine`) keeps them; `hoist build` never does.
  std::map<std::string, transfer::Descriptor> untagged;
  // docker's RepoDigests: manifest digest -> "repo@digest" entries learnt
  // by pushes and pulls.
  std::map<std::string, std::set<std::string>> repo_digests;
};

// <store>/images.json: {"images": {NAME: descriptor}, "untagged": [...],
// "repoDigests": {...}}. Writers take an flock on images.lock and replace
// the file atomically (temp + rename), so concurrent builds never lose
// each other's names and readers never see a torn file. Safe for
// concurrent use by threads and processes.
class ImageIndex {
 public:
  explicit ImageIndex(std::string store_root) : root_(std::move(store_root)) {}

  // Points `name` (a normalised reference) at `manifest`, replacing any
  // earlier target.
  Status Tag(const std::string& name, const transfer::Descriptor& manifest);
  // Every name; an absent file is an empty index.
  Result<std::map<std::string, transfer::Descriptor>> List() const;
  // kNotFound when the name is not in the index.
  Result<transfer::Descriptor> Lookup(const std::string& name) const;
  // The whole index.
  Result<ImageIndexContents> Read() const;
  // Reads, lets `change` edit, and writes the index back, all under the
  // lock; nothing is written when `change` fails.
  Status Update(const std::function<Status(ImageIndexContents&)>& change);

 private:
  std::string root_;
};

// Reads one image (manifest or index) from the store. `mount_from`, when
// set, is offered to sinks as the repository to mount blobs from (a base
// image's registry repository: its layers need not be uploaded again).
class StoreImageSource : public transfer::ImageSource {
 public:
  StoreImageSource(store::ContentStore& store, transfer::Descriptor top, std::string name,
                   std::optional<transfer::RemoteLocation> mount_from = std::nullopt)
      : store_(store),
        top_(std::move(top)),
        name_(std::move(name)),
        mount_from_(std::move(mount_from)) {}

  std::string Name() const override { return name_; }
  Result<transfer::Manifest> TopManifest() override { return ReadManifest(top_); }
  Result<transfer::Manifest> ChildManifest(const transfer::Descriptor& d) override {
    return ReadManifest(d);
  }
  // Safe for concurrent use.
  Result<std::unique_ptr<ByteSource>> OpenBlob(const transfer::Descriptor& d) override;
  const transfer::RemoteLocation* remote() const override {
    return mount_from_ ? &*mount_from_ : nullptr;
  }

 private:
  Result<transfer::Manifest> ReadManifest(const transfer::Descriptor& d);

  store::ContentStore& store_;
  transfer::Descriptor top_;
  std::string name_;
  std::optional<transfer::RemoteLocation> mount_from_;
};

// Writes into the store: blobs verified on the way in (digest and size),
// nothing named until complete. HasManifest is true only when the manifest
// and everything it references are stored, so a pull of an image the store
// holds whole reads nothing but the top manifest.
class StoreImageSink : public transfer::ImageSink {
 public:
  explicit StoreImageSink(store::ContentStore& store) : store_(store) {}

  std::string Name() const override { return "local store " + store_.root(); }
  Result<bool> HasBlob(const transfer::Descriptor& d) override { return store_.Has(d.digest); }
  Result<bool> HasManifest(const transfer::Descriptor& d) override;
  Status PutBlob(const transfer::Descriptor& d, const transfer::BlobOpener& open) override;
  Status PutManifest(const transfer::Manifest& m, bool top) override;
  Status Commit() override { return Status::Ok(); }

 private:
  store::ContentStore& store_;
};

// Stores small content (configs, manifests) under its digest.
Result<transfer::Descriptor> PutSmallBlob(store::ContentStore& store, std::string media_type,
                                          const std::string& bytes);
// Reads a stored small blob (at most `limit` bytes), verifying its digest.
Result<std::string> ReadSmallBlob(const store::ContentStore& store, const Digest& d,
                                  size_t limit = size_t{16} << 20);

// True when `d` and every blob and manifest it references are in the store.
bool HasImageWhole(const store::ContentStore& store, const transfer::Descriptor& d);

}  // namespace hoist::engine
