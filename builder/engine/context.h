// The build context of `hoist build CONTEXT` and its Dockerfile, as the
// docker CLI and BuildKit take them:
//   - a directory: used in place (with a persistent stat index, index_id);
//   - "-": a tar on stdin (plain, gzip, bzip2, xz or zstd), or, when stdin
//     is not a tar, a Dockerfile with an empty context;
//   - a local tarball (recognised by content, whatever its name);
//   - a git repository: "https://host/repo.git#ref:subdir", "git@host:…",
//     "git://…", "ssh://…", "file:///path/repo.git#ref:subdir", or a local
//     repository "path/to/repo#ref[:subdir]"; cloned with libgit2, .git
//     removed (BuildKit's default);
//   - an http(s) URL that is not a git repository: a tarball or a
//     Dockerfile, fetched (docker's remote context).
// Archives are unpacked and repositories cloned into a temporary directory
// under the caller's work directory, removed with the BuildContext.
//
// The Dockerfile (-f): "-" reads it from stdin; an absolute path is used
// as is; a relative one names a file relative to the current directory
// when the context is a local directory and the file exists there (the
// docker CLI's rule), else relative to the context's root. Default:
// <context>/Dockerfile. The ignore file is dockerfile::LoadDockerIgnore's
// choice (<Dockerfile>.dockerignore, else <context>/.dockerignore).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "builder/dockerfile/dockerignore.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

struct BuildContext {
  BuildContext() = default;
  ~BuildContext();  // removes temp_dirs
  BuildContext(const BuildContext&) = delete;
  BuildContext& operator=(const BuildContext&) = delete;

  std::string dir;              // the context's root on disk
  std::string dockerfile_path;  // the Dockerfile on disk; "" when read from stdin
  std::string dockerfile_name;  // for messages: the -f value, or "Dockerfile"
  std::string dockerfile_text;  // its content
  dockerfile::DockerIgnore ignore;
  std::string ignore_file;  // the ignore file read; "" when none
  // Directory contexts only: an identity for a persistent stat index
  // (sha256 of the canonical directory path); nullopt for temporary
  // contexts, whose inodes are new on every build.
  std::optional<Digest> index_id;
  // Git contexts: the remote as given and the commit checked out (for the
  // org.opencontainers.image.source/revision annotations).
  std::string git_remote, git_commit;
  // Removed (recursively) by the destructor.
  std::vector<std::string> temp_dirs;
};

// Opens the context named by `spec` and its Dockerfile per `dockerfile_flag`
// ("" = default). Temporary directories go under `work_dir` (created when
// missing). `stdin_fd` is the stream "-" reads (tests pass a pipe or file).
// Errors name the input: kNotFound for a missing context or Dockerfile,
// kInvalidArgument for an unreadable archive, a failed clone, or stdin
// used for both the context and the Dockerfile.
Result<std::unique_ptr<BuildContext>> OpenContext(const std::string& spec,
                                                  const std::string& dockerfile_flag,
                                                  const std::string& work_dir, int stdin_fd = 0);

}  // namespace hoist::engine
