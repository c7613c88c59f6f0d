#include "builder/engine/base_image.h"

#include <chrono>

#include "builder/engine/image_store.h"
#include "builder/transfer/copy.h"
#include "common/media_types.h"
#include "common/reference.h"

namespace hoist::engine {
namespace {

Status NameRef(const std::string& ref, const Status& st) {
  return Status(st.code(), ref + ": " + st.message());
}

}  // namespace

std::string BaseImageResolver::Key(const std::string& ref, const dockerfile::Platform& platform) {
  return ref + " " + platform.Format();
}

std::shared_ptr<const BaseImage> BaseImageResolver::Resolved(
    const std::string& ref, const dockerfile::Platform& platform) const {
  Result<Reference> r = Reference::Parse(ref);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slots_.find(Key(r.ok() ? r->String() : ref, platform));
  if (it == slots_.end() || !it->second.done) return nullptr;
  return it->second.image;
}

Result<std::shared_ptr<const BaseImage>> BaseImageResolver::Resolve(
    const std::string& ref_text, const dockerfile::Platform& platform) {
  Result<Reference> ref = Reference::Parse(ref_text);
  if (!ref.ok()) return ref.status();
  std::string key = Key(ref->String(), platform);
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = slots_.find(key);
    if (it != slots_.end()) {
      cv_.wait(lock, [&] { return slots_[key].done; });
      const Slot& s = slots_[key];
      if (!s.status.ok()) return s.status;
      return s.image;
    }
    slots_[key];  // claimed: others wait for this call
  }
  Result<std::shared_ptr<const BaseImage>> r = Pull(ref->String(), platform);
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& s = slots_[key];
    s.done = true;
    if (r.ok()) {
      s.image = *r;
    } else {
      s.status = r.status();
    }
  }
  cv_.notify_all();
  return r;
}

Result<std::shared_ptr<const BaseImage>> BaseImageResolver::Pull(
    const std::string& ref_text, const dockerfile::Platform& platform) {
  Result<Reference> ref = Reference::Parse(ref_text);
  if (!ref.ok()) return ref.status();
  transfer::Platform want{platform.os, platform.arch, platform.variant};

  std::optional<transfer::Descriptor> top;
  int fetched = 0;
  int64_t bytes = 0;
  std::chrono::duration<double> pull_time{0};
  // A pinned image the store holds whole: no network.
  if (ref->digest() && store_.Has(*ref->digest())) {
    Result<std::string> bytes_or = ReadSmallBlob(store_, *ref->digest());
    if (bytes_or.ok()) {
      Result<transfer::Manifest> m = transfer::MakeManifest("", std::move(*bytes_or));
      if (m.ok() && !m->is_index() && HasImageWhole(store_, m->descriptor())) top = m->descriptor();
    }
  }
  // A local image of that name (the Engine API's), whole in the store.
  if (!top && lookup_.local) {
    if (std::optional<transfer::Descriptor> d = lookup_.local(*ref);
        d && HasImageWhole(store_, *d)) {
      Result<transfer::Descriptor> picked = PlatformManifest(store_, *d, want);
      if (!picked.ok()) return NameRef(ref_text, picked.status());
      top = *picked;
    }
  }
  const Reference from = lookup_.remote ? lookup_.remote(*ref) : *ref;
  if (!top) {
    Result<transfer::Place> place = transfer::ParsePlace(from.String());
    if (!place.ok()) return NameRef(ref_text, place.status());
    Result<std::unique_ptr<transfer::ImageSource>> src = places_.OpenSource(*place);
    if (!src.ok()) return NameRef(ref_text, src.status());
    StoreImageSink sink(store_);
    transfer::CopyOptions co;
    co.platform = want;
    co.jobs = jobs_;
    auto t0 = std::chrono::steady_clock::now();
    Result<transfer::CopySummary> sum = transfer::Copy(**src, sink, co);
    if (!sum.ok()) return NameRef(ref_text, sum.status());
    pull_time = std::chrono::steady_clock::now() - t0;
    top = sum->top.descriptor();
    fetched = sum->blobs_copied;
    bytes = sum->bytes_copied;
  }
  Result<BaseImage> img = LoadStoredImage(store_, *top);
  if (!img.ok()) return NameRef(ref_text, img.status());
  img->ref = ref->String();
  img->location = transfer::RemoteLocation{from.domain(), from.path()};
  img->blobs_fetched = fetched;
  img->bytes_fetched = bytes;
  img->pull_seconds = pull_time.count();

  CacheRecord rec;
  rec.key =
      CacheKeyBuilder("pull").Add("ref", ref->String()).Add("platform", platform.Format()).Finish();
  rec.kind = "pull";
  rec.description = ref->String() + " " + platform.Format();
  rec.manifest = top->digest;
  rec.manifest_media_type = top->media_type;
  rec.blobs.push_back(top->digest);
  rec.blobs.push_back(img->config_digest);
  for (const LayerRef& l : img->layers) rec.blobs.push_back(l.digest);
  HOIST_RETURN_IF_ERROR(cache_.Put(rec));
  return std::make_shared<const BaseImage>(std::move(*img));
}

Result<transfer::Descriptor> PlatformManifest(const store::ContentStore& store,
                                              const transfer::Descriptor& top,
                                              const transfer::Platform& want) {
  if (!media::IsIndexType(top.media_type)) return top;
  Result<std::string> bytes = ReadSmallBlob(store, top.digest);
  if (!bytes.ok()) return bytes.status();
  Result<transfer::Manifest> m = transfer::MakeManifest(top.media_type, std::move(*bytes));
  if (!m.ok()) return m.status();
  Result<transfer::ManifestContents> c = transfer::ParseManifest(*m);
  if (!c.ok()) return c.status();
  return transfer::SelectPlatform(*m, *c, want);
}

Result<BaseImage> LoadStoredImage(const store::ContentStore& store,
                                  const transfer::Descriptor& manifest) {
  Result<std::string> bytes = ReadSmallBlob(store, manifest.digest);
  if (!bytes.ok()) return bytes.status();
  Result<transfer::Manifest> m = transfer::MakeManifest(manifest.media_type, std::move(*bytes));
  if (!m.ok()) return m.status();
  Result<transfer::ManifestContents> c = transfer::ParseManifest(*m);
  if (!c.ok()) return c.status();
  if (!c->config) {
    return Status(Code::kManifestInvalid, "manifest " + manifest.digest.str() + " is not an image");
  }
  Result<std::string> cfg_bytes = ReadSmallBlob(store, c->config->digest);
  if (!cfg_bytes.ok()) return cfg_bytes.status();
  Result<ImageConfig> cfg = ImageConfig::Parse(*cfg_bytes);
  if (!cfg.ok()) return cfg.status();
  if (cfg->diff_ids.size() != c->layers.size()) {
    return Status(Code::kManifestInvalid, "image " + manifest.digest.str() + " has " +
                                              std::to_string(c->layers.size()) +
                                              " layers but its config lists " +
                                              std::to_string(cfg->diff_ids.size()) + " diff IDs");
  }
  BaseImage out;
  out.manifest = m->descriptor();
  out.config_digest = c->config->digest;
  for (size_t i = 0; i < c->layers.size(); ++i) {
    const transfer::Descriptor& l = c->layers[i];
    if (l.foreign) {
      return Status(Code::kUnsupported, "image " + manifest.digest.str() +
                                            " has a non-distributable layer " + l.digest.str());
    }
    out.layers.push_back(LayerRef{l.media_type, l.digest, l.size, cfg->diff_ids[i]});
  }
  out.config = std::move(*cfg);
  return out;
}

}  // namespace hoist::engine
