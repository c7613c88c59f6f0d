#include "builder/transfer/remote.h"

namespace hoist::transfer {

RemoteSource::RemoteSource(std::shared_ptr<RegistryClient> client, Reference ref)
    : client_(std::move(client)), ref_(std::move(ref)), location_{ref_.domain(), ref_.path()} {}

Result<Manifest> RemoteSource::TopManifest() {
  Result<RemoteManifest> m = client_->GetManifest(ref_.path(), ref_.ManifestReference());
  if (!m.ok()) return m.status();
  Manifest out;
  out.media_type = m->media_type;
  out.bytes = std::move(m->bytes);
  out.digest = m->digest;
  return out;
}

Result<Manifest> RemoteSource::ChildManifest(const Descriptor& d) {
  Result<RemoteManifest> m = client_->GetManifest(ref_.path(), d.digest.str());
  if (!m.ok()) return m.status();
  Manifest out;
  out.media_type = m->media_type.empty() ? d.media_type : m->media_type;
  out.bytes = std::move(m->bytes);
  out.digest = m->digest;
  return out;
}

Result<std::unique_ptr<ByteSource>> RemoteSource::OpenBlob(const Descriptor& d) {
  return client_->OpenBlob(ref_.path(), d.digest, d.size);
}

RemoteSink::RemoteSink(std::shared_ptr<RegistryClient> client, Reference ref)
    : client_(std::move(client)), ref_(std::move(ref)) {
  client_->PreferPushScope(ref_.path());
}

Result<bool> RemoteSink::HasBlob(const Descriptor& d) {
  Result<std::optional<int64_t>> size = client_->HeadBlob(ref_.path(), d.digest);
  if (!size.ok()) return size.status();
  return size->has_value() && (**size == d.size || **size < 0);
}

Result<bool> RemoteSink::HasManifest(const Descriptor& d) {
  Result<std::optional<ManifestHead>> head = client_->HeadManifest(ref_.path(), d.digest.str());
  if (!head.ok()) return head.status();
  return head->has_value();
}

Result<bool> RemoteSink::TryMount(const Descriptor& d, const ImageSource& from) {
  const RemoteLocation* loc = from.remote();
  if (loc == nullptr || loc->domain != ref_.domain() || loc->repo == ref_.path()) return false;
  return client_->MountBlob(ref_.path(), d.digest, loc->repo);
}

Status RemoteSink::PutBlob(const Descriptor& d, const BlobOpener& open) {
  return client_->PushBlob(ref_.path(), d.digest, d.size, open);
}

Status RemoteSink::PutManifest(const Manifest& m, bool top) {
  if (!top || (ref_.tag().empty() && ref_.digest())) {
    if (top && !(*ref_.digest() == m.digest)) {
      return Status(Code::kDigestInvalid, "destination " + ref_.String() + " names digest " +
                                              ref_.digest()->str() + " but the image is " +
                                              m.digest.str());
    }
    return client_->PutManifest(ref_.path(), m.digest.str(), m.media_type, m.bytes);
  }
  return client_->PutManifest(ref_.path(), ref_.tag(), m.media_type, m.bytes);
}

}  // namespace hoist::transfer
