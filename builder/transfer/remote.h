// A registry repository as an ImageSource / ImageSink, over RegistryClient.
#pragma once

#include <memory>

#include "builder/transfer/source.h"
#include "common/reference.h"
#include "common/registry_client.h"

namespace hoist::transfer {

// Reads the image `ref` names (by digest when it has one, else by tag).
class RemoteSource : public ImageSource {
 public:
  RemoteSource(std::shared_ptr<RegistryClient> client, Reference ref);

  std::string Name() const override { return ref_.String(); }
  Result<Manifest> TopManifest() override;
  Result<Manifest> ChildManifest(const Descriptor& d) override;
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override;
  const RemoteLocation* remote() const override { return &location_; }

 private:
  std::shared_ptr<RegistryClient> client_;
  Reference ref_;
  RemoteLocation location_;
};

// Writes into the repository of `ref`; the top manifest goes under its
// tag (or, for a digest-only reference, by digest, which must match).
class RemoteSink : public ImageSink {
 public:
  RemoteSink(std::shared_ptr<RegistryClient> client, Reference ref);

  std::string Name() const override { return ref_.String(); }
  Result<bool> HasBlob(const Descriptor& d) override;
  Result<bool> HasManifest(const Descriptor& d) override;
  Result<bool> TryMount(const Descriptor& d, const ImageSource& from) override;
  Status PutBlob(const Descriptor& d, const BlobOpener& open) override;
  Status PutManifest(const Manifest& m, bool top) override;
  Status Commit() override { return Status::Ok(); }

 private:
  std::shared_ptr<RegistryClient> client_;
  Reference ref_;
};

}  // namespace hoist::transfer
