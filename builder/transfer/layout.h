// An OCI image layout directory (image-spec "Image Layout": oci-layout,
// index.json, blobs/<alg>/<encoded>) as an ImageSource / ImageSink.
// Images in index.json are named by the annotation
// "org.opencontainers.image.ref.name" (the TAG of `oci:DIR:TAG`).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "builder/transfer/source.h"

namespace hoist::transfer {

inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

// DIR/blobs/<alg>/<hex>.
std::string LayoutBlobPath(const std::string& dir, const Digest& d);

class LayoutSource : public ImageSource {
 public:
  // Reads DIR/index.json. `tag` selects the entry with that ref.name; an
  // empty tag selects the only entry. Errors name the directory and list
  // the tags there are.
  static Result<std::unique_ptr<LayoutSource>> Open(const std::string& dir, const std::string& tag,
                                                    std::string name);

  std::string Name() const override { return name_; }
  Result<Manifest> TopManifest() override;
  Result<Manifest> ChildManifest(const Descriptor& d) override;
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override;

 private:
  LayoutSource(std::string dir, Descriptor top, std::string name)
      : dir_(std::move(dir)), top_(std::move(top)), name_(std::move(name)) {}
  Result<Manifest> ReadManifest(const Descriptor& d);

  std::string dir_;
  Descriptor top_;
  std::string name_;
};

class LayoutSink : public ImageSink {
 public:
  // Writes into DIR (an OCI layout, or a directory that does not exist or
  // is empty). When DIR does not exist, everything is written to a sibling
  // staging directory that Commit() renames to DIR, so a failed copy leaves
  // nothing behind. `tag` (may be empty) names the image in index.json.
  static Result<std::unique_ptr<LayoutSink>> Open(const std::string& dir, const std::string& tag,
                                                  std::string name);
  ~LayoutSink() override;

  std::string Name() const override { return name_; }
  Result<bool> HasBlob(const Descriptor& d) override;
  Result<bool> HasManifest(const Descriptor& d) override { return HasBlob(d); }
  Status PutBlob(const Descriptor& d, const BlobOpener& open) override;
  Status PutManifest(const Manifest& m, bool top) override;
  Status Commit() override;

  // The top manifest written so far (after PutManifest(top)).
  const std::optional<Manifest>& top() const { return top_; }
  // Where files are being written (the staging directory until Commit).
  const std::string& write_dir() const { return write_dir_; }

 private:
  LayoutSink(std::string dir, std::string write_dir, std::string tag, std::string name)
      : dir_(std::move(dir)),
        write_dir_(std::move(write_dir)),
        tag_(std::move(tag)),
        name_(std::move(name)) {}

  std::string dir_;        // the final directory
  std::string write_dir_;  // == dir_, or the staging directory
  std::string tag_;
  std::string name_;
  std::optional<Manifest> top_;
  bool committed_ = false;
  std::mutex mu_;
};

// Writes `content` to `path` atomically (a temporary name, fsync, rename).
Status WriteFileAtomic(const std::string& path, const std::string& content);
// Reads a whole small file; kNotFound when absent.
Result<std::string> ReadSmallFile(const std::string& path, size_t limit);

}  // namespace hoist::transfer
