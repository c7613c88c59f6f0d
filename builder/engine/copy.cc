// COPY and ADD planning (copy.h). Two phases:
//   1. Collect: every source of the request becomes Matches — tree paths
//      (wildcards expanded element by element, a named symlink followed,
//      directories walked with .dockerignore and --exclude applied), URLs,
//      git repositories and heredocs. Nothing here depends on the stage, so
//      CopySourcesKey hashes this phase's result.
//   2. Plan: the destination is resolved in the stage's root (symlinks
//      inside it, "is it a directory"), and every match becomes layer
//      entries at its place below it, with the parents of the destination
//      (as they are in the stage, or created 0755).
#include "builder/engine/copy.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>

#include "builder/engine/archive_source.h"
#include "builder/engine/git_source.h"
#include "builder/engine/glob.h"
#include "builder/engine/tree_util.h"
#include "builder/engine/url_source.h"
#include "builder/layer/extract.h"
#include "builder/layer/path.h"

namespace hoist::engine {
namespace {

using dockerfile::CleanPath;
using dockerfile::DockerIgnore;
using layer::Entry;
using layer::EntryType;

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

std::string Host(const SourceTree& tree, const std::string& rel) {
  return rel.empty() ? tree.root() : tree.root() + "/" + rel;
}

std::string Word(const CopyRequest& req) {
  return req.is_add ? "ADD" : "COPY";
}

std::string LastElement(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// ---- phase 1: what the sources are ----

// One path found in a source tree.
struct Found {
  std::string rel;  // in the tree (host path: root/rel); "" = the tree's root
  std::string sub;  // below the match; "" = the match itself
  struct stat st {};
  std::string link;  // symlink target
};

enum class Kind { kTree, kUrl, kGit, kInline };

struct Match {
  Kind kind = Kind::kTree;
  std::string arg;           // the source as written (a URL, or "<<NAME" for heredocs)
  std::string name;          // the destination name for a non-directory
  std::string path;          // kTree: the matched path in the tree, symlinks not followed
  std::string kept;          // --parents: the path kept below the destination
  std::vector<Found> found;  // kTree: the match, then for a directory all below it
  size_t inline_index = 0;   // kInline
  GitSource git;             // kGit
};

class Collector {
 public:
  Collector(SourceTree& tree, const CopyRequest& req) : tree_(tree), req_(req) {}

  Result<std::vector<Match>> Run() {
    Result<DockerIgnore> ex = DockerIgnore::Compile(req_.excludes);
    if (!ex.ok()) return Status(Code::kInvalidArgument, "--exclude: " + ex.status().message());
    excludes_ = std::move(*ex);
    std::vector<Match> out;
    for (const std::string& src : req_.sources) {
      if (req_.is_add) {
        if (std::optional<GitSource> g = ParseGitUrl(src)) {
          Match m;
          m.kind = Kind::kGit;
          m.arg = src;
          m.git = *g;
          out.push_back(std::move(m));
          continue;
        }
        if (IsHttpUrl(src)) {
          Match m;
          m.kind = Kind::kUrl;
          m.arg = src;
          m.name = UrlFileName(src);
          out.push_back(std::move(m));
          continue;
        }
      } else if (IsHttpUrl(src)) {
        return Status(Code::kInvalidArgument, "source can't be a URL for COPY: " + src);
      }
      if (req_.checksum) {
        return Status(Code::kInvalidArgument,
                      "checksum can't be specified for non-HTTP(S) sources: " + src);
      }
      HOIST_RETURN_IF_ERROR(TreeSource(src, &out));
    }
    for (size_t i = 0; i < req_.inline_sources.size(); ++i) {
      Match m;
      m.kind = Kind::kInline;
      m.arg = "<<" + req_.inline_sources[i].name;
      m.name = req_.inline_sources[i].name;
      m.inline_index = i;
      out.push_back(std::move(m));
    }
    return out;
  }

 private:
  // Whether a walk leaves `f` out: .dockerignore on the tree path,
  // --exclude on the path below the copied source (and on the tree path
  // of a matched source itself).
  bool Excluded(const std::string& rel, const std::string& below) const {
    if (!rel.empty() && tree_.Excluded(rel)) return true;
    return !excludes_.empty() && !below.empty() && excludes_.Excluded(below);
  }
  bool Skippable(const std::string& rel, const std::string& below) const {
    bool ctx = !rel.empty() && tree_.Excluded(rel) && !tree_.SkipExcludedDir(rel);
    bool user = !excludes_.empty() && !below.empty() && excludes_.Excluded(below) &&
                !excludes_.CanSkipExcludedDir(below);
    return !ctx && !user;
  }

  Status TreeSource(const std::string& src, std::vector<Match>* out) {
    // "../file" is "file": ".." stops at the root of the context, as
    // BuildKit's path cleaning does (Docker's classic builder refused it).
    std::string rel = CleanPath("/" + src).substr(1);
    // --parents: "a/./b/c" keeps "b/c" below the destination.
    size_t pivot_elems = 0;
    if (size_t p = src.find("/./"); req_.parents && p != std::string::npos) {
      std::string pivot = CleanPath("/" + src.substr(0, p)).substr(1);
      pivot_elems = layer::SplitPath(pivot).size();
    }
    std::vector<std::string> paths;  // matched tree paths, symlinks not yet followed
    bool wildcard = HasWildcards(rel);
    if (!wildcard) {
      paths.push_back(rel);
    } else {
      // A wildcard may match nothing (BuildKit's AllowEmptyWildcard);
      // only a source without one must exist.
      HOIST_RETURN_IF_ERROR(Expand(rel, &paths));
    }
    for (const std::string& path : paths) {
      Match m;
      m.arg = src;
      m.name = LastElement(path);
      m.path = path;
      if (req_.parents) {
        std::vector<std::string_view> parts = layer::SplitPath(path);
        for (size_t i = pivot_elems; i < parts.size(); ++i) m.kept = Join(m.kept, parts[i]);
      }
      // A source named directly (or matched) is followed, inside the tree.
      Result<InRoot> r = ResolveInRoot(tree_.root(), path, /*follow_last=*/true);
      if (!r.ok()) return Status(r.status().code(), src + ": " + r.status().message());
      if (!r->exists || (!r->rel.empty() && tree_.Excluded(r->rel) &&
                         !(S_ISDIR(r->st.st_mode) && !tree_.SkipExcludedDir(r->rel)))) {
        return Status(Code::kNotFound, "\"/" + path + "\": not found in the " + tree_.Name());
      }
      if (!path.empty() && !excludes_.empty() && excludes_.Excluded(path)) continue;
      Found top;
      top.rel = r->rel;
      top.st = r->st;
      m.found.push_back(top);
      if (S_ISDIR(top.st.st_mode)) {
        bool any = false;
        HOIST_RETURN_IF_ERROR(Walk(top.rel, "", &m.found, &any));
        // An ignored directory is in the context only for what "!"
        // patterns re-include below it; with nothing, it is not there.
        if (!any && !r->rel.empty() && tree_.Excluded(r->rel)) {
          if (wildcard) continue;
          return Status(Code::kNotFound, "\"/" + path + "\": not found in the " + tree_.Name());
        }
      }
      out->push_back(std::move(m));
    }
    return Status::Ok();
  }

  // Expands a wildcard path (filepath.Match per element; matched
  // directories are entered only when they are directories, not symlinks,
  // as filepath.Walk does) into sorted tree paths.
  Status Expand(const std::string& rel, std::vector<std::string>* out) {
    std::vector<std::string_view> parts = layer::SplitPath(rel);
    size_t k = 0;
    while (k < parts.size() && !HasWildcards(parts[k]) &&
           parts[k].find('\\') == std::string_view::npos) {
      ++k;
    }
    std::string prefix;
    for (size_t i = 0; i < k; ++i) prefix = Join(prefix, parts[i]);
    Result<InRoot> base = ResolveInRoot(tree_.root(), prefix, /*follow_last=*/true);
    if (!base.ok()) return base.status();
    if (!base->exists || !S_ISDIR(base->st.st_mode)) return Status::Ok();
    std::vector<ElementPattern> pats;
    for (size_t i = k; i < parts.size(); ++i) {
      Result<ElementPattern> p = ElementPattern::Compile(parts[i]);
      if (!p.ok()) return p.status();
      pats.push_back(std::move(*p));
    }
    // written: the path as matched (prefix as written); real: in the tree.
    std::function<Status(size_t, const std::string&, const std::string&)> step =
        [&](size_t i, const std::string& written, const std::string& real) -> Status {
      Result<std::vector<std::string>> names = ListDir(Host(tree_, real));
      if (!names.ok()) return names.status();
      for (const std::string& n : *names) {
        if (!(pats[i].literal() ? n == pats[i].text() : pats[i].Match(n))) continue;
        std::string r = Join(real, n);
        struct stat st {};
        if (::lstat(Host(tree_, r).c_str(), &st) != 0) continue;
        if (tree_.Excluded(r) && !(S_ISDIR(st.st_mode) && !tree_.SkipExcludedDir(r))) continue;
        if (i + 1 == pats.size()) {
          out->push_back(Join(written, n));
        } else if (S_ISDIR(st.st_mode)) {
          HOIST_RETURN_IF_ERROR(step(i + 1, Join(written, n), r));
        }
      }
      return Status::Ok();
    };
    return step(0, prefix, base->rel);
  }

  static Result<std::vector<std::string>> ListDir(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return ErrnoStatus("opendir", dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  // Appends everything below the directory `rel` (sub: its path below the
  // copied source), sorted, directories before their contents. Returns
  // through `any` whether something was added.
  Status Walk(const std::string& rel, const std::string& sub, std::vector<Found>* out,
              bool* any = nullptr) {
    Result<std::vector<std::string>> names = ListDir(Host(tree_, rel));
    if (!names.ok()) return names.status();
    for (const std::string& n : *names) {
      Found f;
      f.rel = Join(rel, n);
      f.sub = Join(sub, n);
      if (::lstat(Host(tree_, f.rel).c_str(), &f.st) != 0)
        return ErrnoStatus("lstat", Host(tree_, f.rel));
      if (S_ISSOCK(f.st.st_mode)) continue;
      bool excluded = Excluded(f.rel, f.sub);
      bool dir = S_ISDIR(f.st.st_mode);
      if (excluded && (!dir || Skippable(f.rel, f.sub))) continue;
      if (S_ISLNK(f.st.st_mode)) {
        Result<std::string> t = ReadLinkAt(Host(tree_, f.rel));
        if (!t.ok()) return t.status();
        f.link = std::move(*t);
      }
      if (!dir) {
        out->push_back(std::move(f));
        if (any) *any = true;
        continue;
      }
      // An excluded directory is kept only for what "!" patterns re-include.
      size_t at = out->size();
      std::string frel = f.rel, fsub = f.sub;
      out->push_back(std::move(f));
      bool below = false;
      HOIST_RETURN_IF_ERROR(Walk(frel, fsub, out, &below));
      if (excluded && !below) {
        out->erase(out->begin() + static_cast<std::ptrdiff_t>(at));
      } else if (any) {
        *any = true;
      }
    }
    return Status::Ok();
  }

  static Result<std::string> ReadLinkAt(const std::string& path) {
    std::string buf(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return ErrnoStatus("readlink", path);
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

  SourceTree& tree_;
  const CopyRequest& req_;
  DockerIgnore excludes_;
};

// ---- phase 2: entries ----

// Field-by-field hashing, each field length-prefixed so that no two field
// lists hash alike.
class KeyHasher {
 public:
  KeyHasher& Add(std::string_view s) {
    uint64_t n = s.size();
    h_.Update(&n, sizeof n);
    h_.Update(s);
    return *this;
  }
  KeyHasher& Add(uint64_t v) { return Add(std::to_string(v)); }
  Digest Finish() const { return h_.Current(); }

 private:
  Digester h_;
};

char TypeChar(mode_t m) {
  if (S_ISDIR(m)) return 'd';
  if (S_ISREG(m)) return 'f';
  if (S_ISLNK(m)) return 'l';
  if (S_ISCHR(m)) return 'c';
  if (S_ISBLK(m)) return 'b';
  if (S_ISFIFO(m)) return 'p';
  return '?';
}

// The request's own fields (not stage_root or work_dir).
void HashRequest(const CopyRequest& r, KeyHasher& k) {
  k.Add("hoist copy sources v1").Add(r.is_add ? "ADD" : "COPY");
  k.Add(r.sources.size());
  for (const std::string& s : r.sources) k.Add(s);
  k.Add(r.inline_sources.size());
  for (const CopyRequest::Inline& i : r.inline_sources) k.Add(i.name).Add(DigestOf(i.data).str());
  k.Add(r.dest).Add(r.workdir);
  k.Add(r.chown ? std::to_string(r.chown->uid) + ":" + std::to_string(r.chown->gid) : "-");
  k.Add(r.chmod ? r.chmod->spec() : "-");
  k.Add(r.excludes.size());
  for (const std::string& e : r.excludes) k.Add(e);
  k.Add(r.parents).Add(r.link).Add(r.unpack).Add(r.keep_git_dir);
  k.Add(r.checksum ? r.checksum->str() : "-");
}

struct Slot {
  Entry entry;
  std::string digest;  // content digest of a regular file
  bool weak = false;   // a parent of the destination: any source entry replaces it
};

// The layer being planned: entries by image path, with Docker's overwrite
// rules (a later file replaces an earlier one; a directory met again keeps
// the metadata it got first, as fsutil only sets it on creation).
class Plan {
 public:
  void Put(Entry e, std::string digest = "", bool weak = false) {
    auto it = slots_.find(e.path);
    if (it != slots_.end()) {
      Slot& s = it->second;
      if (weak) return;
      bool old_dir = s.entry.type == EntryType::kDirectory;
      if (old_dir && e.type == EntryType::kDirectory && !s.weak) return;
      if (old_dir && e.type != EntryType::kDirectory) {
        std::string prefix = e.path + "/";
        auto child = slots_.lower_bound(prefix);
        while (child != slots_.end() && child->first.compare(0, prefix.size(), prefix) == 0) {
          child = slots_.erase(child);
        }
      }
    }
    std::string path = e.path;
    slots_[path] = Slot{std::move(e), std::move(digest), weak};
  }
  bool Has(const std::string& path) const { return slots_.count(path) != 0; }

  CopyResult Finish() {
    CopyResult r;
    KeyHasher k;
    k.Add("hoist copy layer v1");
    for (auto& [path, s] : slots_) {
      const Entry& e = s.entry;
      k.Add(path).Add(static_cast<uint64_t>(e.type)).Add(e.mode).Add(e.uid).Add(e.gid);
      k.Add(e.link_target).Add(e.size).Add(s.digest).Add(e.dev_major).Add(e.dev_minor);
      k.Add(e.xattrs.size());
      for (const auto& [n, v] : e.xattrs) k.Add(n).Add(v);
      if (e.type == EntryType::kRegular) {
        ++r.files;
        r.bytes += e.size;
      }
      r.entries.push_back(std::move(s.entry));
    }
    r.content_key = k.Finish();
    slots_.clear();
    return r;
  }

 private:
  std::map<std::string, Slot> slots_;
};

struct Dest {
  std::string rel;      // resolved in the stage, no leading "/"; "" = the root
  bool hint = false;    // written as a directory ("/" at the end, ".")
  bool exists = false;  // in the stage
  bool is_dir = false;  // in the stage
  // The destination's last component is a symbolic link to something that
  // is not a directory: that link, resolved up to it ("" otherwise).
  std::string link_rel;
};

class Planner {
 public:
  Planner(SourceTree& tree, const CopyRequest& req) : tree_(tree), req_(req) {}

  Result<CopyResult> Run() {
    Result<std::vector<Match>> matches = Collector(tree_, req_).Run();
    if (!matches.ok()) return matches.status();
    HOIST_RETURN_IF_ERROR(ResolveDest());
    bool many = matches->size() > 1;
    if (many && !dest_.hint && !(dest_.exists && dest_.is_dir) && !req_.parents) {
      return Status(Code::kInvalidArgument,
                    "When using " + Word(req_) +
                        " with more than one source file, the destination must be a directory "
                        "and end with a /");
    }
    dest_is_dir_ = dest_.hint || (dest_.exists && dest_.is_dir) || req_.parents || many;
    if (!dest_.link_rel.empty()) {
      Result<bool> dir = dest_is_dir_ ? Result<bool>(true) : MakesDirectory(*matches);
      if (!dir.ok()) return dir.status();
      if (*dir) {
        // A directory where a symbolic link to a file is: the directory
        // replaces the link, as Docker's builder does (BuildKit refuses:
        // "cannot copy to non-directory"); the link's target is untouched.
        dest_.rel = dest_.link_rel;
        dest_.exists = false;
      }
    }
    bool dest_dir_needed = dest_is_dir_;
    for (const Match& m : *matches) {
      Result<bool> dir = Place(m);
      if (!dir.ok()) return dir.status();
      dest_dir_needed = dest_dir_needed || *dir;
    }
    HOIST_RETURN_IF_ERROR(Parents(dest_dir_needed));
    return plan_.Finish();
  }

 private:
  Status ResolveDest() {
    const std::string& d = req_.dest;
    dest_.hint = d.empty() || d.back() == '/' || d == "." ||
                 (d.size() >= 2 && d.compare(d.size() - 2, 2, "/.") == 0);
    std::string abs = !d.empty() && d[0] == '/' ? d : "/" + req_.workdir + "/" + d;
    dest_.rel = CleanPath(abs).substr(1);
    if (req_.stage_root.empty()) return Status::Ok();
    Result<InRoot> r = ResolveInRoot(req_.stage_root, dest_.rel, /*follow_last=*/true);
    if (!r.ok()) return Status(r.status().code(), "destination " + d + ": " + r.status().message());
    if (r->not_dir) {
      return Status(Code::kInvalidArgument,
                    "destination " + d + ": a parent directory is not a directory in the stage");
    }
    dest_.rel = r->rel;
    dest_.exists = r->exists;
    dest_.is_dir = r->exists && S_ISDIR(r->st.st_mode);
    if (dest_.exists && !dest_.is_dir) {
      Result<InRoot> link = ResolveInRoot(req_.stage_root, CleanPath(abs).substr(1), false);
      if (link.ok() && link->exists && S_ISLNK(link->st.st_mode)) dest_.link_rel = link->rel;
    }
    return Status::Ok();
  }

  // Whether placing `matches` makes a directory at the destination: a
  // directory source, a git repository, or a tar archive ADD unpacks.
  Result<bool> MakesDirectory(const std::vector<Match>& matches) {
    for (const Match& m : matches) {
      if (m.kind == Kind::kGit) return true;
      if (m.kind != Kind::kTree) continue;
      const struct stat& st = m.found[0].st;
      if (S_ISDIR(st.st_mode)) return true;
      if (req_.is_add && req_.unpack && S_ISREG(st.st_mode)) {
        Result<bool> archive = IsTarArchive(Host(tree_, m.found[0].rel));
        if (!archive.ok() || *archive) return archive;
      }
    }
    return false;
  }

  // The owner of a new entry: --chown, else the source's (trees that keep
  // owners), else 0:0.
  Owner OwnerOf(const SourceTree& tree, const std::string& host, const struct stat& st) const {
    if (req_.chown) return *req_.chown;
    if (tree.KeepOwners()) return RecordedOwner(host, st);
    return Owner{};
  }

  // Makes the entry for a found path at image path `path`.
  Status Add(SourceTree& tree, const Found& f, const std::string& path) {
    if (path.empty()) return Status::Ok();  // the image root itself is never an entry
    std::string host = Host(tree, f.rel);
    const struct stat& st = f.st;
    Entry e;
    std::string digest;
    if (S_ISDIR(st.st_mode)) {
      e = Entry::Dir(path, st.st_mode & 07777);
      if (f.rel.empty() && !tree.KeepOwners()) {
        // The context's own root: its host mode is an accident of checkout.
        e.mode = 0755;
      }
    } else if (S_ISREG(st.st_mode)) {
      std::optional<Entry> device =
          tree.KeepOwners() ? DevicePlaceholder(host, path) : std::nullopt;
      if (device) {
        e = std::move(*device);
      } else if (auto it = links_.find({st.st_dev, st.st_ino});
                 st.st_nlink > 1 && it != links_.end() && it->second.first != path) {
        e = Entry::Hardlink(path, it->second.first);
        digest = it->second.second;
      } else {
        Result<Digest> d = tree.FileDigest(f.rel);
        if (!d.ok()) return d.status();
        digest = d->str();
        e = Entry::HostFile(path, host, static_cast<uint64_t>(st.st_size), st.st_mode & 07777);
        if (st.st_nlink > 1) links_[{st.st_dev, st.st_ino}] = {path, digest};
      }
    } else if (S_ISLNK(st.st_mode)) {
      e = Entry::Symlink(path, f.link);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      e = Entry::Device(path,
                        S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice,
                        major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777);
    } else if (S_ISFIFO(st.st_mode)) {
      e = Entry::Fifo(path, st.st_mode & 07777);
    } else {
      return Status::Ok();
    }
    if (req_.chmod && e.type != EntryType::kSymlink) {
      e.mode = req_.chmod->Apply(e.mode, e.type == EntryType::kDirectory);
    }
    Owner o = OwnerOf(tree, host, st);
    e.uid = o.uid;
    e.gid = o.gid;
    if (!(f.rel.empty() && !tree.KeepOwners())) e.mtime = static_cast<int64_t>(st.st_mtime);
    if (tree.KeepOwners() && e.type != EntryType::kHardlink) e.xattrs = ReadXattrs(host);
    plan_.Put(std::move(e), std::move(digest));
    return Status::Ok();
  }

  // A device that a rootless extraction kept as a placeholder file.
  static std::optional<Entry> DevicePlaceholder(const std::string& host, const std::string& path) {
    char buf[64];
    ssize_t n =
        ::lgetxattr(host.c_str(), std::string(layer::kDeviceXattr).c_str(), buf, sizeof buf - 1);
    if (n <= 0) return std::nullopt;
    buf[n] = '\0';
    char kind = 0;
    unsigned maj = 0, min = 0;
    if (std::sscanf(buf, "%c %u %u", &kind, &maj, &min) != 3 || (kind != 'c' && kind != 'b')) {
      return std::nullopt;
    }
    return Entry::Device(path, kind == 'c' ? EntryType::kCharDevice : EntryType::kBlockDevice, maj,
                         min);
  }

  // Places the found paths of a directory below `base`.
  Status AddTree(SourceTree& tree, const std::vector<Found>& found, const std::string& base) {
    for (const Found& f : found) {
      if (f.sub.empty() && base == dest_.rel) {
        // The directory itself: an existing destination keeps its metadata;
        // one the copy creates is BuildKit's CreateDestPath: 0755 (or
        // --chmod's), --chown's owner, whatever the source directory's mode.
        if ((dest_.exists && dest_.is_dir) || base.empty()) continue;
        Entry e = Entry::Dir(base, req_.chmod ? req_.chmod->Apply(0755, true) : 0755);
        Owner o = req_.chown.value_or(Owner{});
        e.uid = o.uid;
        e.gid = o.gid;
        plan_.Put(std::move(e), "");
        continue;
      }
      HOIST_RETURN_IF_ERROR(Add(tree, f, Join(base, f.sub)));
    }
    return Status::Ok();
  }

  // --parents: the directories of the kept path, with their metadata in
  // the tree.
  Status AddKeptParents(const Match& m) {
    std::vector<std::string_view> kept = layer::SplitPath(m.kept);
    std::vector<std::string_view> path = layer::SplitPath(m.path);
    if (kept.size() < 2 || path.size() < kept.size()) return Status::Ok();
    std::string in_tree;
    for (size_t i = 0; i < path.size() - kept.size(); ++i) in_tree = Join(in_tree, path[i]);
    std::string image = dest_.rel;
    for (size_t i = 0; i + 1 < kept.size(); ++i) {
      image = Join(image, kept[i]);
      in_tree = Join(in_tree, kept[i]);
      Result<InRoot> r = ResolveInRoot(tree_.root(), in_tree, /*follow_last=*/true);
      if (!r.ok()) return r.status();
      if (!r->exists || !S_ISDIR(r->st.st_mode)) continue;
      Found f;
      f.rel = r->rel;
      f.st = r->st;
      HOIST_RETURN_IF_ERROR(Add(tree_, f, image));
    }
    return Status::Ok();
  }

  // Places one match; returns whether it needs the destination to be a
  // directory (directory contents, archives, repositories).
  Result<bool> Place(const Match& m) {
    switch (m.kind) {
      case Kind::kInline: {
        const CopyRequest::Inline& in = req_.inline_sources[m.inline_index];
        std::string path = dest_is_dir_ ? Join(dest_.rel, m.name) : dest_.rel;
        if (path.empty()) return Status(Code::kInvalidArgument, "cannot copy " + m.arg + " onto /");
        Entry e = Entry::File(path, in.data, req_.chmod ? req_.chmod->Apply(0644, false) : 0644);
        Owner o = req_.chown.value_or(Owner{});
        e.uid = o.uid;
        e.gid = o.gid;
        plan_.Put(std::move(e), DigestOf(in.data).str());
        return false;
      }
      case Kind::kUrl: {
        Result<Download> d = FetchUrl(m.arg, req_.work_dir, req_.checksum);
        if (!d.ok()) return d.status();
        std::string path = dest_is_dir_ ? Join(dest_.rel, m.name) : dest_.rel;
        if (path.empty()) return Status(Code::kInvalidArgument, "cannot add " + m.arg + " onto /");
        Entry e = Entry::HostFile(path, d->path, d->size,
                                  req_.chmod ? req_.chmod->Apply(0600, false) : 0600);
        Owner o = req_.chown.value_or(Owner{});
        e.uid = o.uid;
        e.gid = o.gid;
        e.mtime = d->last_modified;
        plan_.Put(std::move(e), d->digest.str());
        return false;
      }
      case Kind::kGit: {
        Result<Checkout> c = FetchGit(m.git, req_.work_dir, req_.keep_git_dir);
        if (!c.ok()) return c.status();
        return PlaceDirectory(c->dir, "git " + m.arg, /*keep_owners=*/false);
      }
      case Kind::kTree:
        break;
    }
    const Found& top = m.found[0];
    if (S_ISDIR(top.st.st_mode)) {
      std::string base = req_.parents ? Join(dest_.rel, m.kept) : dest_.rel;
      if (req_.parents) HOIST_RETURN_IF_ERROR(AddKeptParents(m));
      HOIST_RETURN_IF_ERROR(AddTree(tree_, m.found, base));
      return true;
    }
    if (req_.is_add && req_.unpack && S_ISREG(top.st.st_mode)) {
      Result<bool> archive = IsTarArchive(Host(tree_, top.rel));
      if (!archive.ok()) return archive.status();
      if (*archive) return PlaceArchive(m);
    }
    std::string path;
    if (req_.parents) {
      HOIST_RETURN_IF_ERROR(AddKeptParents(m));
      path = Join(dest_.rel, m.kept);
    } else {
      path = dest_is_dir_ ? Join(dest_.rel, m.name) : dest_.rel;
    }
    if (path.empty()) return Status(Code::kInvalidArgument, "cannot copy " + m.arg + " onto /");
    HOIST_RETURN_IF_ERROR(Add(tree_, top, path));
    return false;
  }

  Result<bool> PlaceArchive(const Match& m) {
    if (req_.work_dir.empty()) {
      return Status(Code::kInvalidArgument, "ADD " + m.arg + ": no work directory to unpack into");
    }
    Result<std::string> dir = MakeTempDir(req_.work_dir, "unpack-");
    if (!dir.ok()) return dir.status();
    // Owners as the archive records them: chowned where hoist may (as root,
    // symbolic links too), else recorded in an xattr (files, directories).
    HOIST_RETURN_IF_ERROR(
        UnpackArchive(Host(tree_, m.found[0].rel), *dir, layer::Ownership::kAuto, m.arg));
    return PlaceDirectory(*dir, "archive " + m.arg, /*keep_owners=*/true);
  }

  // Copies the contents of a directory outside the source tree (an
  // unpacked archive, a git checkout) into the destination. The directory
  // must outlive the layer write (it lives under the work directory).
  Result<bool> PlaceDirectory(const std::string& dir, std::string name, bool keep_owners) {
    Result<std::unique_ptr<SourceTree>> t =
        keep_owners ? OpenStageTree(std::move(name), dir)
                    : OpenDirectoryTree(std::move(name), dir, DockerIgnore(), "");
    if (!t.ok()) return t.status();
    SourceTree& tree = **t;
    CopyRequest whole = req_;
    whole.sources = {"."};
    whole.inline_sources.clear();
    whole.parents = false;
    whole.checksum.reset();
    Result<std::vector<Match>> ms = Collector(tree, whole).Run();
    if (!ms.ok()) return ms.status();
    // Below the destination, which Parents() makes (or keeps) a directory.
    const std::vector<Found>& found = (*ms)[0].found;
    HOIST_RETURN_IF_ERROR(AddTree(tree, {found.begin() + 1, found.end()}, dest_.rel));
    return true;
  }

  // The destination's parents (and the destination when it is a
  // directory): as they are in the stage, else created 0755 and owned by
  // --chown's owner (BuildKit's MkdirAll with the copy's chown).
  Status Parents(bool dest_dir) {
    std::vector<std::string_view> parts = layer::SplitPath(dest_.rel);
    size_t n = dest_dir ? parts.size() : (parts.empty() ? 0 : parts.size() - 1);
    std::string path;
    for (size_t i = 0; i < n; ++i) {
      path = Join(path, parts[i]);
      struct stat st {};
      std::string host = req_.stage_root + "/" + path;
      Entry e = Entry::Dir(path, 0755);
      if (!req_.stage_root.empty() && ::lstat(host.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        e.mode = st.st_mode & 07777;
        Owner o = RecordedOwner(host, st);
        e.uid = o.uid;
        e.gid = o.gid;
        e.mtime = static_cast<int64_t>(st.st_mtime);
      } else {
        Owner o = req_.chown.value_or(Owner{});
        e.uid = o.uid;
        e.gid = o.gid;
      }
      plan_.Put(std::move(e), "", /*weak=*/true);
    }
    return Status::Ok();
  }

  SourceTree& tree_;
  const CopyRequest& req_;
  Dest dest_;
  bool dest_is_dir_ = false;
  Plan plan_;
  // Hard links: (dev, inode) -> first image path and its digest.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, std::string>> links_;
};

}  // namespace

Result<Digest> CopySourcesKey(SourceTree& tree, const CopyRequest& req) {
  Result<std::vector<Match>> matches = Collector(tree, req).Run();
  if (!matches.ok()) return matches.status();
  KeyHasher k;
  HashRequest(req, k);
  for (const Match& m : *matches) {
    k.Add(static_cast<uint64_t>(m.kind)).Add(m.arg).Add(m.name).Add(m.kept);
    switch (m.kind) {
      case Kind::kInline:
        break;  // the request's fields hold the content
      case Kind::kUrl: {
        if (req.checksum) {
          k.Add(req.checksum->str());
          break;
        }
        Result<Download> d = FetchUrl(m.arg, req.work_dir, std::nullopt);
        if (!d.ok()) return d.status();
        k.Add(d->digest.str()).Add(d->last_modified ? std::to_string(*d->last_modified) : "-");
        break;
      }
      case Kind::kGit: {
        Result<std::string> commit = ResolveGitCommit(m.git);
        if (!commit.ok()) return commit.status();
        k.Add(*commit).Add(m.git.subdir);
        break;
      }
      case Kind::kTree:
        for (const Found& f : m.found) {
          k.Add(f.sub).Add(std::string(1, TypeChar(f.st.st_mode))).Add(f.st.st_mode & 07777);
          k.Add(f.link);
          if (tree.KeepOwners()) {
            Owner o = RecordedOwner(Host(tree, f.rel), f.st);
            k.Add(o.uid).Add(o.gid);
          }
          if (S_ISREG(f.st.st_mode)) {
            Result<Digest> d = tree.FileDigest(f.rel);
            if (!d.ok()) return d.status();
            k.Add(d->str());
          } else if (S_ISCHR(f.st.st_mode) || S_ISBLK(f.st.st_mode)) {
            k.Add(static_cast<uint64_t>(f.st.st_rdev));
          }
        }
        break;
    }
  }
  return k.Finish();
}

Result<CopyResult> PlanCopy(SourceTree& tree, const CopyRequest& req) {
  return Planner(tree, req).Run();
}

}  // namespace hoist::engine
