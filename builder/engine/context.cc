#include "builder/engine/context.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "builder/engine/archive_source.h"
#include "builder/engine/git_source.h"
#include "builder/engine/tree_util.h"
#include "builder/engine/url_source.h"
#include "builder/store/file_io.h"

namespace hoist::engine {
namespace {

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string RealPath(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  std::string out = real ? real : path;
  std::free(real);
  return out;
}

// A local repository: a working tree with .git, or a bare repository.
bool IsLocalRepository(const std::string& path) {
  return IsDir(path) && (IsDir(path + "/.git") || IsFile(path + "/.git") ||
                         (IsFile(path + "/HEAD") && IsDir(path + "/objects")));
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, path + ": no such file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Copies the stream `fd` reads (not closed) into the new file `path`.
Status SaveFd(int fd, const std::string& path, const std::string& what) {
  int dup = ::dup(fd);
  if (dup < 0) return ErrnoStatus("dup", what);
  store::FileSource in(store::UniqueFd(dup), what);
  Result<std::pair<Digest, uint64_t>> saved = SaveStream(in, path);
  return saved.ok() ? Status::Ok() : saved.status();
}

class Opener {
 public:
  Opener(const std::string& dockerfile_flag, const std::string& work_dir, int stdin_fd)
      : flag_(dockerfile_flag), work_dir_(work_dir), stdin_fd_(stdin_fd) {}

  Result<std::unique_ptr<BuildContext>> Open(const std::string& spec) {
    ctx_ = std::make_unique<BuildContext>();
    if (spec == "-" && flag_ == "-") {
      return Status(Code::kInvalidArgument,
                    "invalid argument: can't use stdin for both build context and dockerfile");
    }
    HOIST_RETURN_IF_ERROR(OpenDir(spec));
    HOIST_RETURN_IF_ERROR(ReadDockerfile());
    Result<dockerfile::DockerIgnore> ignore =
        dockerfile::LoadDockerIgnore(ctx_->dir, ctx_->dockerfile_path, &ctx_->ignore_file);
    if (!ignore.ok()) return ignore.status();
    ctx_->ignore = std::move(*ignore);
    return std::move(ctx_);
  }

 private:
  Result<std::string> Temp() {
    Result<std::string> dir = MakeTempDir(work_dir_, "context-");
    if (dir.ok()) ctx_->temp_dirs.push_back(*dir);
    return dir;
  }

  // The context directory for `spec`.
  Status OpenDir(const std::string& spec) {
    if (spec == "-")
      return FromStream("stdin",
                        [&](const std::string& path) { return SaveFd(stdin_fd_, path, "stdin"); });
    if (std::optional<GitSource> git = ParseGitUrl(spec)) return FromGit(*git);
    if (IsHttpUrl(spec)) {
      return FromStream(spec, [&](const std::string& path) -> Status {
        Result<Download> d = FetchUrl(spec, work_dir_, std::nullopt);
        if (!d.ok()) return d.status();
        if (::rename(d->path.c_str(), path.c_str()) != 0) return ErrnoStatus("rename", d->path);
        return Status::Ok();
      });
    }
    struct stat st {};
    if (::stat(spec.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        ctx_->dir = RealPath(spec);
        ctx_->index_id = DigestOf(ctx_->dir);
        local_dir_ = true;
        return Status::Ok();
      }
      Result<bool> archive = IsTarArchive(spec);
      if (!archive.ok()) return archive.status();
      if (!*archive) {
        return Status(Code::kInvalidArgument, "unable to prepare context: " + spec +
                                                  " is neither a directory, a tar archive nor a "
                                                  "git repository");
      }
      return Unpack(spec, spec);
    }
    GitSource local = SplitGitFragment(spec);
    if (spec.find('#') != std::string::npos && IsLocalRepository(local.remote)) {
      local.remote = RealPath(local.remote);
      return FromGit(local);
    }
    return Status(Code::kNotFound, "unable to prepare context: path \"" + spec + "\" not found");
  }

  Status FromGit(const GitSource& git) {
    Result<std::string> tmp = Temp();
    if (!tmp.ok()) return tmp.status();
    Result<Checkout> c = CloneGit(git, *tmp + "/repo", /*keep_git_dir=*/false);
    if (!c.ok())
      return Status(c.status().code(), "unable to prepare context: " + c.status().message());
    ctx_->dir = c->dir;
    ctx_->git_remote = git.remote;
    ctx_->git_commit = c->commit;
    return Status::Ok();
  }

  // A stream that is a tar (the context) or a Dockerfile (empty context).
  Status FromStream(const std::string& what,
                    const std::function<Status(const std::string&)>& save) {
    Result<std::string> tmp = Temp();
    if (!tmp.ok()) return tmp.status();
    std::string file = *tmp + "/input";
    HOIST_RETURN_IF_ERROR(save(file));
    Result<bool> archive = IsTarArchive(file);
    if (!archive.ok()) return archive.status();
    if (*archive) {
      HOIST_RETURN_IF_ERROR(Unpack(file, what));
      ::unlink(file.c_str());
      return Status::Ok();
    }
    Result<std::string> text = ReadText(file);
    if (!text.ok()) return text.status();
    ::unlink(file.c_str());
    ctx_->dockerfile_text = std::move(*text);
    ctx_->dockerfile_name = "Dockerfile";
    dockerfile_read_ = true;
    ctx_->dir = *tmp + "/context";
    if (::mkdir(ctx_->dir.c_str(), 0755) != 0) return ErrnoStatus("mkdir", ctx_->dir);
    return Status::Ok();
  }

  Status Unpack(const std::string& archive, const std::string& what) {
    Result<std::string> tmp = Temp();
    if (!tmp.ok()) return tmp.status();
    ctx_->dir = *tmp;
    return UnpackArchive(archive, ctx_->dir, layer::Ownership::kIgnore, what);
  }

  Status ReadDockerfile() {
    if (dockerfile_read_) return Status::Ok();
    if (flag_ == "-") {
      Result<std::string> tmp = Temp();
      if (!tmp.ok()) return tmp.status();
      HOIST_RETURN_IF_ERROR(SaveFd(stdin_fd_, *tmp + "/Dockerfile", "stdin"));
      Result<std::string> text = ReadText(*tmp + "/Dockerfile");
      if (!text.ok()) return text.status();
      ctx_->dockerfile_text = std::move(*text);
      ctx_->dockerfile_name = "Dockerfile";
      return Status::Ok();
    }
    std::string name = flag_.empty() ? "Dockerfile" : flag_;
    std::string path;
    if (name[0] == '/') {
      path = name;
    } else if (local_dir_ && !flag_.empty() && IsFile(name)) {
      path = RealPath(name);  // docker CLI: -f is relative to the current directory
    } else {
      path = ctx_->dir + "/" + name;
    }
    if (!IsFile(path)) {
      return Status(Code::kNotFound,
                    "failed to read dockerfile: open " + name + ": no such file or directory");
    }
    Result<std::string> text = ReadText(path);
    if (!text.ok()) return text.status();
    ctx_->dockerfile_path = path;
    ctx_->dockerfile_name = name;
    ctx_->dockerfile_text = std::move(*text);
    return Status::Ok();
  }

  const std::string flag_;
  const std::string work_dir_;
  const int stdin_fd_;
  std::unique_ptr<BuildContext> ctx_;
  bool local_dir_ = false;
  bool dockerfile_read_ = false;
};

}  // namespace

BuildContext::~BuildContext() {
  for (const std::string& d : temp_dirs) RemoveTree(d);
}

Result<std::unique_ptr<BuildContext>> OpenContext(const std::string& spec,
                                                  const std::string& dockerfile_flag,
                                                  const std::string& work_dir, int stdin_fd) {
  return Opener(dockerfile_flag, work_dir, stdin_fd).Open(spec);
}

}  // namespace hoist::engine
