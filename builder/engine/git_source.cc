#include "builder/engine/git_source.h"

#include <git2.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <mutex>

#include "builder/engine/tree_util.h"

namespace hoist::engine {
namespace {

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] { ::git_libgit2_init(); });
}

// Owning handles for libgit2 objects.
struct RemoteFree {
  void operator()(git_remote* r) const { ::git_remote_free(r); }
};
struct RepoFree {
  void operator()(git_repository* r) const { ::git_repository_free(r); }
};
struct ObjectFree {
  void operator()(git_object* o) const { ::git_object_free(o); }
};
using RemotePtr = std::unique_ptr<git_remote, RemoteFree>;
using RepoPtr = std::unique_ptr<git_repository, RepoFree>;
using ObjectPtr = std::unique_ptr<git_object, ObjectFree>;

Status GitError(Code code, const std::string& what) {
  const git_error* e = ::git_error_last();
  return Status(code, what + ": " + (e && e->message ? e->message : "unknown libgit2 error"));
}

bool LooksLikeCommit(std::string_view ref) {
  if (ref.size() < 7 || ref.size() > 40) return false;
  for (char c : ref) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Describe(const GitSource& src) {
  return src.remote + (src.ref.empty() ? "" : "#" + src.ref);
}

// Sets c.dir to src.subdir of the checkout, resolved inside it.
Result<Checkout> WithSubdir(Checkout c, const GitSource& src) {
  if (src.subdir.empty()) return c;
  Result<InRoot> sub = ResolveInRoot(c.root, src.subdir, /*follow_last=*/true);
  if (!sub.ok()) return sub.status();
  if (!sub->exists || !S_ISDIR(sub->st.st_mode)) {
    return Status(Code::kNotFound,
                  "git " + Describe(src) + ": subdirectory \"" + src.subdir + "\" not found");
  }
  c.dir = sub->rel.empty() ? c.root : c.root + "/" + sub->rel;
  return c;
}

}  // namespace

GitSource SplitGitFragment(std::string_view s) {
  GitSource g;
  size_t hash = s.find('#');
  g.remote = std::string(s.substr(0, hash));
  if (hash == std::string_view::npos) return g;
  std::string_view frag = s.substr(hash + 1);
  size_t colon = frag.find(':');
  g.ref = std::string(frag.substr(0, colon));
  if (colon != std::string_view::npos) g.subdir = std::string(frag.substr(colon + 1));
  return g;
}

std::optional<GitSource> ParseGitUrl(std::string_view s) {
  std::string_view remote = s.substr(0, s.find('#'));
  auto starts = [&](std::string_view p) { return remote.rfind(p, 0) == 0; };
  bool git = starts("git@") || starts("git://") || starts("ssh://") || starts("file://");
  if (!git && (starts("http://") || starts("https://"))) {
    std::string_view path = remote.substr(0, remote.find('?'));
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    git = path.size() > 4 && path.substr(path.size() - 4) == ".git";
  }
  if (!git) return std::nullopt;
  return SplitGitFragment(s);
}

Result<std::string> ResolveGitCommit(const GitSource& src) {
  InitLibgit2();
  git_remote* raw = nullptr;
  if (::git_remote_create_detached(&raw, src.remote.c_str()) != 0) {
    return GitError(Code::kInvalidArgument, "git remote " + src.remote);
  }
  RemotePtr remote(raw);
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  if (::git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, nullptr) != 0) {
    return GitError(Code::kInvalidArgument, "git remote " + src.remote);
  }
  const git_remote_head** heads = nullptr;
  size_t n = 0;
  if (::git_remote_ls(&heads, &n, remote.get()) != 0) {
    return GitError(Code::kInvalidArgument, "git ls-remote " + src.remote);
  }
  // Preference: HEAD, a branch, a tag (peeled to its commit), a full ref.
  std::vector<std::string> wanted;
  if (src.ref.empty() || src.ref == "HEAD") {
    wanted = {"HEAD"};
  } else {
    wanted = {"refs/heads/" + src.ref, "refs/tags/" + src.ref + "^{}", "refs/tags/" + src.ref,
              src.ref};
  }
  for (const std::string& name : wanted) {
    for (size_t i = 0; i < n; ++i) {
      if (name == heads[i]->name) {
        char hex[GIT_OID_HEXSZ + 1] = {};
        ::git_oid_tostr(hex, sizeof hex, &heads[i]->oid);
        return std::string(hex);
      }
    }
  }
  if (LooksLikeCommit(src.ref)) return src.ref;
  return Status(Code::kNotFound, "git ref \"" + src.ref + "\" not found in " + src.remote);
}

Result<Checkout> CloneGit(const GitSource& src, const std::string& dir, bool keep_git_dir) {
  InitLibgit2();
  git_clone_options opts = GIT_CLONE_OPTIONS_INIT;
  opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
  git_repository* raw = nullptr;
  if (::git_clone(&raw, src.remote.c_str(), dir.c_str(), &opts) != 0) {
    return GitError(Code::kInvalidArgument, "git clone " + src.remote);
  }
  RepoPtr repo(raw);
  std::vector<std::string> specs;
  if (src.ref.empty()) {
    specs = {"HEAD"};
  } else {
    specs = {"refs/remotes/origin/" + src.ref, "refs/tags/" + src.ref, src.ref};
  }
  ObjectPtr commit;
  for (const std::string& spec : specs) {
    git_object* obj = nullptr;
    if (::git_revparse_single(&obj, repo.get(), spec.c_str()) != 0) continue;
    ObjectPtr found(obj);
    git_object* peeled = nullptr;
    if (::git_object_peel(&peeled, found.get(), GIT_OBJECT_COMMIT) == 0) {
      commit.reset(peeled);
      break;
    }
  }
  if (!commit) {
    return Status(Code::kNotFound, "git ref \"" + src.ref + "\" not found in " + src.remote);
  }
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (::git_checkout_tree(repo.get(), commit.get(), &co) != 0) {
    return GitError(Code::kIo, "git checkout " + Describe(src));
  }
  if (::git_repository_set_head_detached(repo.get(), ::git_object_id(commit.get())) != 0) {
    return GitError(Code::kIo, "git checkout " + Describe(src));
  }
  char hex[GIT_OID_HEXSZ + 1] = {};
  ::git_oid_tostr(hex, sizeof hex, ::git_object_id(commit.get()));
  repo.reset();
  if (!keep_git_dir) RemoveTree(dir + "/.git");
  return WithSubdir(Checkout{dir, dir, hex}, src);
}

Result<Checkout> FetchGit(const GitSource& src, const std::string& work_dir, bool keep_git_dir) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, Checkout>();
  std::string key =
      work_dir + "\n" + src.remote + "\n" + src.ref + "\n" + (keep_git_dir ? "1" : "0");
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    struct stat st {};
    if (it != cache->end() && ::stat(it->second.root.c_str(), &st) == 0) {
      return WithSubdir(it->second, src);
    }
  }
  if (work_dir.empty()) {
    return Status(Code::kInvalidArgument,
                  "git " + Describe(src) + ": no work directory for clones");
  }
  Result<std::string> dir = MakeTempDir(work_dir, "git-");
  if (!dir.ok()) return dir.status();
  GitSource whole = src;
  whole.subdir.clear();
  Result<Checkout> c = CloneGit(whole, *dir + "/src", keep_git_dir);
  if (!c.ok()) {
    RemoveTree(*dir);
    return c.status();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    (*cache)[key] = *c;
  }
  return WithSubdir(*c, src);
}

}  // namespace hoist::engine
