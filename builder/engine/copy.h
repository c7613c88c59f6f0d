// COPY and ADD: from a source tree (the build context, another stage's root
// filesystem, or an image's) to the entries of one layer, with Docker's
// semantics (Dockerfile reference, "COPY" and "ADD"; BuildKit's
// dockerfile2llb + fsutil copy):
//   - sources are relative to the source tree's root and may not leave it
//     ("../x" is an error naming the source); wildcards follow Go's
//     filepath.Match per path element (glob.h); a pattern matching nothing
//     is an error ("no source files were specified"), so is a missing
//     path ("\"/<path>\": not found");
//   - a symlink named (or matched) as a source is followed, inside the
//     tree; symlinks below a copied directory are copied as symlinks; hard
//     links among the copied files stay hard links;
//   - a directory source copies its contents, not itself (with --parents:
//     the matched path, from a "/./" pivot if any, is kept below the
//     destination);
//   - the destination is a directory when it ends in "/" (or is "."), or
//     when it already is one in the stage (symlinks resolved inside the
//     stage); several sources need such a destination, else Docker's error
//     "When using COPY with more than one source file, the destination
//     must be a directory and end with a /"; it is relative to WORKDIR
//     when not absolute; missing parents are created (0755, owned by
//     --chown's owner or root), existing ones keep their metadata;
//   - modes and mtimes come from the sources (the layer writer normalises
//     times); owners are 0:0 for the context, kept for stage and image
//     trees (SourceTree::KeepOwners), --chown's when given;
//   - --chown user[:group] (names through the stage's /etc/passwd and
//     /etc/group, ids as given), --chmod (octal or symbolic, see
//     chmod.h; files and copied directories, not created parents),
//     --exclude patterns (dockerignore syntax, on paths below the source
//     and on matched sources), .dockerignore for the context;
//   - ADD only: local tar archives (gzip, bzip2, xz, zstd, plain; found by
//     content, not name) are unpacked into the destination unless
//     --unpack=false, keeping their owners; URLs are fetched (named after
//     the URL path, mode 0600, Last-Modified kept as mtime, --checksum
//     verified); git URLs cloned (without .git unless --keep-git-dir).
// Every entry carries the digest that the cache key uses (CopyResult), so a
// cache lookup needs no file read when the context's stat index is warm.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile/dockerignore.h"
#include "builder/engine/chmod.h"
#include "builder/layer/writer.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

// A read-only tree that COPY reads from. Implementations: a directory on
// disk (the context, a stage's materialised root), optionally filtered by
// .dockerignore, with a stat-keyed digest index so unchanged files are not
// re-hashed between builds.
class SourceTree {
 public:
  virtual ~SourceTree() = default;
  // For messages: "context", "stage builder", "image alpine".
  virtual std::string Name() const = 0;
  // The directory on disk holding the tree (files are read from here).
  virtual const std::string& root() const = 0;
  // Whether a path (slash-separated, relative to root) is left out
  // (.dockerignore; always false for stage trees).
  virtual bool Excluded(std::string_view rel) const = 0;
  // For walks: whether nothing below the excluded directory `rel` can be
  // included again (no "!" pattern reaches below it), so a walk may skip it.
  virtual bool SkipExcludedDir(std::string_view /*rel*/) const { return true; }
  // sha256 of a regular file's content. May answer from a stat index
  // (size, mtime ns, ctime ns, inode) without reading the file.
  // Safe for concurrent use.
  virtual Result<Digest> FileDigest(const std::string& rel) = 0;
  // Whether copied files keep their owners, as Docker's COPY --from does
  // (moby#38599), instead of becoming 0:0 as context files do. Owners are
  // read the way root filesystems record them (rootfs.h, layer/extract.h):
  // the layer::kOwnerXattr record, else the file's owner when running as
  // root, else 0:0; layer::kDeviceXattr placeholders become devices again.
  virtual bool KeepOwners() const { return false; }

  // What FileDigest did: files read and hashed, answers from the index.
  struct Stats {
    uint64_t hashed = 0, hashed_bytes = 0, index_hits = 0;
  };
  virtual Stats stats() const { return {}; }
};

// A directory as a SourceTree. `index_path` (optional) is a file where the
// stat index persists between builds (loaded on open, saved by SaveIndex).
Result<std::unique_ptr<SourceTree>> OpenDirectoryTree(std::string name, const std::string& dir,
                                                      dockerfile::DockerIgnore ignore,
                                                      const std::string& index_path = "");
// Persists the stat index (no-op without an index path). Atomic (temp+rename).
// An entry is trusted by a later build only when the file's mtime is older
// than the second its stat was taken (git's "racy clean" rule), so a file
// rewritten within that second with the same size is hashed again.
Status SaveIndex(SourceTree& tree);
// Records content digests already known for files under `dir` (the
// engine hashes context files while it receives them) in the stat index
// at `index_path`, as if a build had hashed them now, so the next build
// reads none of them. Other entries stay. Relative paths, '/'-separated.
Status SeedIndex(const std::string& dir, const std::string& index_path,
                 const std::vector<std::pair<std::string, Digest>>& known);

// A stage's or an image's materialised root filesystem (rootfs.h) as a
// SourceTree for COPY --from: nothing excluded, owners kept (KeepOwners).
// With `index_path` (a root filesystem of the cache: immutable, named by
// its chain ID) the content digests persist there (SaveIndex), so a later
// COPY --from the same chain hashes nothing again.
Result<std::unique_ptr<SourceTree>> OpenStageTree(std::string name, const std::string& dir,
                                                  const std::string& index_path = "");

// Resolves --chown names and the stage's users: reads /etc/passwd and
// /etc/group of the stage's root filesystem (a directory; may be empty ""
// for scratch, where only numeric ids work). Errors name the unknown user.
struct Owner {
  uint32_t uid = 0, gid = 0;
};
Result<Owner> ResolveChown(std::string_view spec, const std::string& stage_root);

struct CopyRequest {
  bool is_add = false;
  std::vector<std::string> sources;  // expanded source paths/patterns/URLs
  struct Inline {                    // heredoc sources
    std::string name, data;
  };
  std::vector<Inline> inline_sources;
  std::string dest;     // expanded, as written
  std::string workdir;  // the stage's WORKDIR ("/" when unset)
  std::optional<Owner> chown;
  std::optional<ModeChange> chmod;
  std::vector<std::string> excludes;
  bool parents = false;
  bool link = false;
  bool unpack = true;              // ADD: unpack local archives
  bool keep_git_dir = false;       // ADD git
  std::optional<Digest> checksum;  // ADD --checksum
  // The stage's current root filesystem, for "is dest an existing
  // directory" and symlink resolution of the destination ("" = scratch/empty).
  std::string stage_root;
  // For ADD of URLs and git repositories: where downloads are staged.
  std::string work_dir;
  std::optional<int64_t> source_date_epoch;
};

struct CopyResult {
  // The layer's entries (parents of the destination included), paths
  // absolute-in-image without the leading "/" as layer::Entry expects.
  std::vector<layer::Entry> entries;
  // Digest over everything that determines the layer: sorted paths, types,
  // modes, owners, link targets, xattrs, device numbers and content
  // digests. Equal inputs -> equal digest; any change of content or
  // metadata changes it. Times are left out (the writer normalises them).
  Digest content_key = DigestOf("");
  uint64_t files = 0, bytes = 0;
};

// The cache key part of a COPY/ADD that depends on its sources: a digest
// over the request's fields (not stage_root/work_dir) and every matched
// source's relative path, type, mode, link target and content digest (URLs:
// --checksum when given, else fetched; git: the resolved commit). Reads no
// file whose stat index entry is current, so a no-op rebuild is stat-only.
// Does not look at the stage's root filesystem.
Result<Digest> CopySourcesKey(SourceTree& tree, const CopyRequest& req);

// Plans one COPY/ADD from `tree` (the context or --from source). Does not
// write the layer; layer::WriteLayer does that from `entries` (reading files
// lazily): the tree, and for ADD the downloads, clones and unpacked
// archives under req.work_dir, must stay until then. Errors: kNotFound for
// missing sources, kInvalidArgument for sources outside the tree or bad
// destinations, kDigestInvalid for a --checksum mismatch — messages name
// the path; the caller prefixes file:line.
Result<CopyResult> PlanCopy(SourceTree& tree, const CopyRequest& req);

}  // namespace hoist::engine
