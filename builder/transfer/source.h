// ImageSource and ImageSink: where manifests and blobs come from and go to
// (DESIGN.md, "The seams"). A registry repository, an OCI image layout
// directory and the archive formats are implementations; copy, pull and
// push are "read from one, write to the other" (copy.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "builder/transfer/image.h"
#include "common/io.h"
#include "common/status.h"

namespace hoist {
class RegistryClient;
}

namespace hoist::transfer {

// Where a source lives when it is a registry repository (for mounts).
struct RemoteLocation {
  std::string domain;  // Reference::domain()
  std::string repo;    // Reference::path()
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;

  // The place as the user named it, for messages ("oci:/tmp/x:1").
  virtual std::string Name() const = 0;
  // The manifest or index the place names, verified against its digest
  // when the name pins one.
  virtual Result<Manifest> TopManifest() = 0;
  // A manifest listed by an index, verified against d.digest.
  virtual Result<Manifest> ChildManifest(const Descriptor& d) = 0;
  // The bytes of a blob, not yet verified (wrap with VerifyingReader).
  // Safe for concurrent use.
  virtual Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) = 0;
  // Non-null for registry repositories.
  virtual const RemoteLocation* remote() const { return nullptr; }
};

// Opens a fresh, verified stream of one blob (called again for a retry).
using BlobOpener = std::function<Result<std::unique_ptr<ByteSource>>()>;

// Every write is invisible to readers of the place until Commit() (for a
// registry: a blob is visible once complete and verified, a tag only when
// the top manifest is written last). HasBlob/TryMount/PutBlob are safe
// for concurrent use; the rest is called from one thread.
class ImageSink {
 public:
  virtual ~ImageSink() = default;

  virtual std::string Name() const = 0;
  // False for formats that hold one image only (docker-archive): the copy
  // then selects a platform from an index.
  virtual bool SupportsIndex() const { return true; }
  virtual Result<bool> HasBlob(const Descriptor& d) = 0;
  // True when the manifest, and so everything it references, is there.
  virtual Result<bool> HasManifest(const Descriptor&) { return false; }
  // Cross-repository mount from `from`; true when the blob is now here.
  virtual Result<bool> TryMount(const Descriptor&, const ImageSource&) { return false; }
  // Writes a blob from the stream `open` gives; the stream fails before its
  // end when the bytes do not match the descriptor, and nothing is kept.
  virtual Status PutBlob(const Descriptor& d, const BlobOpener& open) = 0;
  // Writes a manifest: a child of an index (by digest), or the top one
  // (also under the place's tag).
  virtual Status PutManifest(const Manifest& m, bool top) = 0;
  // Makes the image visible (index.json, the archive file).
  virtual Status Commit() = 0;
};

}  // namespace hoist::transfer
