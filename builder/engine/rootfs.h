// Root filesystems of layer chains, materialised on demand and shared by
// builds: the directory for layers L0..Ln lives at rootfs/<ChainID(L0..Ln)>
// under the store root (paths.h) and is immutable once there, so a base
// image is extracted once however many builds use it.
//
// A chain not yet there is made from the longest prefix that is: the
// prefix's tree is copied as hard links (directories are new, every other
// inode shared), the missing layers are applied with layer::ApplyLayerFile
// (verified against digest and diff ID; confined to the root; ownership
// recorded in user.hoist.owner when not root), and the result is renamed
// into place. Hard links are safe because nothing ever writes into a file
// of an extraction: ApplyLayer replaces paths (unlink, then create) and
// only changes the metadata of directories, which are never shared.
//
// Readers (COPY --from, /etc/passwd lookups, destination checks) use the
// directory as is. A step that writes into a root (RUN, issue 6) must not
// write through these hard links: it runs on an overlay whose lower
// directory is the extraction, or on a private copy of it.
//
// Safe for concurrent use by threads (one extraction per chain at a time)
// and processes (racing extractions: the first rename wins).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "builder/engine/cache.h"
#include "builder/store/content_store.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

// image-spec config.md "Layer ChainID": ChainID(L0) = DiffID(L0),
// ChainID(L0|...|Ln) = sha256(ChainID(L0|...|Ln-1) + " " + DiffID(Ln)).
// REQUIRES: !diff_ids.empty().
Digest ChainId(const std::vector<Digest>& diff_ids);

class RootfsCache {
 public:
  explicit RootfsCache(store::ContentStore& store) : store_(store) {}
  RootfsCache(const RootfsCache&) = delete;
  RootfsCache& operator=(const RootfsCache&) = delete;

  struct Stats {
    int reused = 0;          // chains found extracted
    int layers_applied = 0;  // layers extracted
  };

  // The directory of `layers` applied in order ("" for no layers: an empty
  // root). Every blob must be in the store. Errors from extraction name
  // the layer (a corrupt blob is kDigestInvalid or kInvalidArgument).
  Result<std::string> Materialize(const std::vector<LayerRef>& layers);
  // Whether Materialize(layers) would find the chain extracted (no I/O but
  // one stat; another thread or process may extract it meanwhile).
  bool Extracted(const std::vector<LayerRef>& layers) const;

  Stats stats() const;

 private:
  std::mutex* ChainMutex(const std::string& hex);

  store::ContentStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> chain_mu_;
  Stats stats_;
};

// Copies the tree `src` to the new directory `dst`: directories recreated
// with their mode, owner (when root) and xattrs; every other entry hard-
// linked. Both must be on one filesystem.
Status LinkTree(const std::string& src, const std::string& dst);

// Copies the tree `src` to the new directory `dst` privately: a tree a step
// may write into (RUN's live root). Regular files are copied
// (copy_file_range: a reflink where the filesystem offers one), hard links
// among them kept; symlinks, fifos and devices (when root) recreated; modes,
// times, xattrs and (when root) owners kept; sockets left out.
// With copy = false, what is not a directory is hard-linked instead (as
// LinkTree, but copied where no link can be made). `excluded` (paths
// relative to `src`) leaves paths out.
struct TreeCopyOptions {
  bool copy = true;
  std::function<bool(const std::string& rel)> excluded;
};
Status CopyTree(const std::string& src, const std::string& dst,
                const TreeCopyOptions& options = {});

// Copies the regular file `from` to the new file `to` (content and mode).
Status CopyFileTo(const std::string& from, const std::string& to);

}  // namespace hoist::engine
