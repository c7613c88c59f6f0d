#include "builder/dockerapi/buildkit_client.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "builder/store/file_io.h"
#include "common/base64.h"
#include "common/self_exe.h"

namespace hoist::dockerapi {
namespace {

Status Unsafe(const std::string& what) {
  return Status(Code::kInvalidArgument, what);
}

// A MirrorWriter as the plugin's sink: paths are checked here, on this side
// of the seam.
class MirrorSink : public EntrySink {
 public:
  explicit MirrorSink(MirrorWriter& m) : m_(m) {}

  Status Directory(const std::string& path, mode_t perm) override {
    Result<std::string> rel = Rel(path);
    if (!rel.ok()) return rel.status();
    return m_.Directory(*rel, perm);
  }
  Status Symlink(const std::string& path, const std::string& target) override {
    Result<std::string> rel = Rel(path);
    if (!rel.ok()) return rel.status();
    return m_.Symlink(*rel, target);
  }
  Status Hardlink(const std::string& path, const std::string& target) override {
    Result<std::string> rel = Rel(path);
    if (!rel.ok()) return rel.status();
    std::optional<std::string> to = MirrorWriter::Clean(target.c_str());
    if (!to) return Unsafe("hard link outside the context: " + *rel);
    return m_.Hardlink(*rel, *to);
  }
  Result<std::unique_ptr<File>> Regular(const std::string& path, int64_t size, int64_t mtime_ns,
                                        mode_t perm) override {
    Result<std::string> rel = Rel(path);
    if (!rel.ok()) return rel.status();
    Result<bool> same = m_.Unchanged(*rel, size, mtime_ns, perm);
    if (!same.ok()) return same.status();
    if (*same) return std::unique_ptr<File>();
    Result<std::unique_ptr<MirrorWriter::File>> f = m_.Create(*rel, perm, mtime_ns);
    if (!f.ok()) return f.status();
    return std::unique_ptr<File>(new MirrorFile(std::move(*f)));
  }

 private:
  class MirrorFile : public File {
   public:
    explicit MirrorFile(std::unique_ptr<MirrorWriter::File> f) : f_(std::move(f)) {}
    Status Write(const char* data, size_t n) override { return f_->Write(data, n); }
    Status Commit() override { return f_->Commit(); }

   private:
    std::unique_ptr<MirrorWriter::File> f_;
  };

  static Result<std::string> Rel(const std::string& path) {
    std::optional<std::string> rel = MirrorWriter::Clean(path.c_str());
    if (!rel || rel->empty()) return Unsafe("unsafe path in the build context: " + path);
    return *rel;
  }

  MirrorWriter& m_;
};

}  // namespace

BuildkitSessions* LoadBuildkitPlugin(std::string* why) {
  static std::once_flag once;
  static BuildkitSessions* loaded = nullptr;
  static std::string error;
  std::call_once(once, [] {
    std::string path;
    if (const char* env = std::getenv("HOIST_BUILDKIT_PLUGIN"); env != nullptr && *env != 0) {
      path = env;
    } else {
      Result<std::string> self = SelfExe();
      if (!self.ok()) {
        error = "cannot find the hoist binary's directory: " + self.status().message();
        return;
      }
      path = self->substr(0, self->rfind('/') + 1) + "hoist-buildkit.so";
    }
    // RTLD_LOCAL: gRPC's symbols stay the plugin's.
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = ::dlerror();
      error = e != nullptr ? e : "cannot load " + path;
      return;
    }
    using Entry = BuildkitSessions* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(h, "hoist_buildkit_sessions_v1"));
    if (entry == nullptr) {
      error = path + " is not hoist's BuildKit plugin";
      return;
    }
    loaded = entry();
  });
  if (loaded == nullptr && why != nullptr) *why = error;
  return loaded;
}

Result<SyncResult> DiffCopyToDir(BuildkitSessions& sessions, const std::string& id,
                                 const DiffCopyRequest& req, const std::string& dir) {
  HOIST_RETURN_IF_ERROR(store::MakeDirs(dir));
  MirrorWriter mirror(dir);
  MirrorSink sink(mirror);
  HOIST_RETURN_IF_ERROR(sessions.DiffCopy(id, req, sink));
  HOIST_RETURN_IF_ERROR(mirror.Prune());
  return std::move(mirror.result());
}

void BuildkitTrace::operator()(const engine::ProgressEvent& e) {
  std::string bytes = sessions_.TraceMessage(e, build_id_, &warnings_);
  if (bytes.empty()) return;
  send_(nlohmann::json{{"id", "moby.buildkit.trace"}, {"aux", Base64Encode(bytes)}});
}

}  // namespace hoist::dockerapi
