// Image archives as ImageSources / ImageSinks (tar via libarchive):
//
//  oci-archive:FILE[:TAG]     a tar of an OCI image layout (skopeo's format).
//  docker-archive:FILE[:REF]  what `docker save` writes and `docker load`
//      reads: manifest.json [{Config, RepoTags, Layers}] naming files in the
//      tar. hoist writes Docker 25's shape: an OCI layout (blobs/sha256/...,
//      index.json) plus manifest.json pointing into blobs/, so the exact
//      manifest survives a round trip (same digests) and every `docker
//      load` (which reads manifest.json and decompresses layers) accepts
//      it. Reading also accepts the legacy shape (<id>/layer.tar, skopeo's
//      <hex>.tar): a Docker schema2 manifest is then made from the files.
//
// Reading extracts the tar to a private temporary directory first (paths
// with ".." or absolute paths are refused; links must stay inside).
// Writing stages a layout next to FILE and writes FILE.tmp-*, renamed to
// FILE on Commit, so a failed copy leaves FILE as it was.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "builder/transfer/source.h"
#include "common/reference.h"

namespace hoist::transfer {

Result<std::unique_ptr<ImageSource>> OpenOciArchiveSource(const std::string& file,
                                                          const std::string& tag, std::string name);
Result<std::unique_ptr<ImageSink>> OpenOciArchiveSink(const std::string& file,
                                                      const std::string& tag, std::string name);
Result<std::unique_ptr<ImageSource>> OpenDockerArchiveSource(const std::string& file,
                                                             const std::optional<Reference>& ref,
                                                             std::string name);
// `ref` (may be empty) becomes the image's RepoTags entry.
Result<std::unique_ptr<ImageSink>> OpenDockerArchiveSink(const std::string& file,
                                                         const std::optional<Reference>& ref,
                                                         std::string name);

// A docker-archive of several images, as `docker save a b` writes it:
// every blob once, one manifest.json entry per image (RepoTags as given).
// Copy each image into the sink Add returns and Commit that sink; Commit
// here writes FILE (a temporary name, then rename: nothing on failure).
class DockerArchiveWriter {
 public:
  static Result<std::unique_ptr<DockerArchiveWriter>> Open(const std::string& file,
                                                           std::string name);
  ~DockerArchiveWriter();
  DockerArchiveWriter(const DockerArchiveWriter&) = delete;
  DockerArchiveWriter& operator=(const DockerArchiveWriter&) = delete;

  // A sink for the next image; `tags` become its RepoTags (those with a
  // tag), `index_tag` its name in the archive's index.json ("" = none).
  Result<std::unique_ptr<ImageSink>> Add(std::vector<Reference> tags,
                                         const std::string& index_tag = "");
  // REQUIRES: every sink Add returned is committed or gone.
  Status Commit();

  class Impl;

 private:
  explicit DockerArchiveWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Extracts the tar FILE (any compression libarchive reads) into DIR.
Status ExtractTar(const std::string& file, const std::string& dir);
// Writes every file under DIR into the tar FILE (PAX, sorted, mtime 0,
// uid/gid 0): the same tree always gives the same bytes.
Status WriteTar(const std::string& dir, const std::string& file);

}  // namespace hoist::transfer
