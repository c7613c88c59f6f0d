// Git sources, for build contexts and ADD: "<remote>#<ref>:<subdir>" cloned
// with libgit2 (BuildKit's git source and dockerfile2llb's ADD of git
// URLs). The working tree is checked out at the commit the ref names;
// .git is removed unless kept (BuildKit's --keep-git-dir).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hoist::engine {

struct GitSource {
  std::string remote;  // URL or local path, as libgit2 takes it
  std::string ref;     // branch, tag, full ref or commit; "" = the remote's HEAD
  std::string subdir;  // below the checkout; "" = its root
};

// Recognises a git URL as Docker does: "git@host:path", "git://", "ssh://",
// "file://", or an http(s) URL whose path ends in ".git"; each optionally
// followed by "#ref[:subdir]". nullopt for anything else.
std::optional<GitSource> ParseGitUrl(std::string_view s);

// Splits "#ref[:subdir]" off `s` (the remote stays in `remote`).
GitSource SplitGitFragment(std::string_view s);

// The commit that `src.ref` names in the remote (an ls-remote; nothing is
// cloned). A ref that no remote ref matches but looks like a commit id
// (7 to 40 hex digits) is returned as it is. kNotFound for an unknown ref;
// kInvalidArgument when the remote cannot be reached (libgit2's message).
Result<std::string> ResolveGitCommit(const GitSource& src);

struct Checkout {
  std::string root;    // the working tree
  std::string dir;     // src.subdir of it (resolved inside it), or root
  std::string commit;  // full hex id checked out
};

// Clones `src.remote` into the new directory `dir` and checks out the
// commit `src.ref` names (detached). Errors name the remote and the ref;
// a missing src.subdir is kNotFound.
Result<Checkout> CloneGit(const GitSource& src, const std::string& dir, bool keep_git_dir);

// As CloneGit into a new directory under `work_dir`; the same source
// cloned again into the same work directory by this process is served
// from the first clone. Safe for concurrent use.
Result<Checkout> FetchGit(const GitSource& src, const std::string& work_dir, bool keep_git_dir);

}  // namespace hoist::engine
