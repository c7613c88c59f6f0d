#include "builder/dockerapi/api.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "builder/dockerapi/buildkit_client.h"
#include "builder/dockerapi/context_sync.h"
#include "builder/dockerfile/platform.h"
#include "builder/engine/cache.h"
#include "builder/engine/cli_commands.h"
#include "builder/engine/context.h"
#include "builder/engine/copy.h"
#include "builder/engine/engine.h"
#include "builder/engine/image_store.h"
#include "builder/engine/paths.h"
#include "builder/store/file_io.h"
#include "builder/transfer/archive.h"
#include "builder/transfer/copy.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/place.h"
#include "builder/transfer/remote.h"
#include "builder/transfer/verify.h"
#include "common/clock.h"
#include "common/credentials.h"
#include "common/reference.h"

namespace hoist::dockerapi {
namespace {

using nlohmann::json;
using transfer::Descriptor;

constexpr size_t kMaxJsonBody = size_t{1} << 20;
constexpr const char* kNoContainers =
    "hoist engine builds and stores images; it runs no containers";

// ---- requests and responses ------------------------------------------------

// "/v1.47/images/json" -> "/images/json".
std::string StripVersion(const std::string& path) {
  if (path.size() < 4 || path.compare(0, 2, "/v") != 0) return path;
  size_t i = 2;
  size_t digits = 0;
  while (i < path.size() && (std::isdigit(static_cast<unsigned char>(path[i])) || path[i] == '.')) {
    ++i;
    ++digits;
  }
  if (digits == 0 || (i < path.size() && path[i] != '/')) return path;
  return i == path.size() ? "/" : path.substr(i);
}

void SendJson(ResponseWriter& w, int status, const json& body) {
  w.Send(status, "application/json", body.dump() + "\n");
}

void SendError(ResponseWriter& w, int status, const std::string& message) {
  SendJson(w, status, json{{"message", message}});
}

// The Engine API status for an error.
int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case Code::kNotFound:
    case Code::kManifestUnknown:
    case Code::kNameUnknown:
    case Code::kBlobUnknown:
      return 404;
    case Code::kInvalidArgument:
    case Code::kNameInvalid:
    case Code::kManifestInvalid:
      return 400;
    case Code::kUnauthorized:
      return 401;
    case Code::kDenied:
      return 403;
    case Code::kConflict:
      return 409;
    default:
      return 500;
  }
}

void SendStatus(ResponseWriter& w, const Status& st) {
  SendError(w, HttpStatusOf(st), st.message());
}

// Docker's JSON message stream (pkg/jsonmessage): one object per line.
// Safe for concurrent use (transfers report from worker threads).
class JsonStream {
 public:
  explicit JsonStream(ResponseWriter& w) : w_(w) {}
  Status Begin() { return w_.Begin(200, "application/json"); }
  void Send(const json& j) {
    std::lock_guard<std::mutex> lock(mu_);
    if (gone_) return;
    if (!w_.Write(j.dump() + "\r\n").ok()) gone_ = true;
  }
  void Stream(const std::string& text) { Send(json{{"stream", text}}); }
  void StatusLine(const std::string& status, const std::string& id = "") {
    json j = {{"status", status}};
    if (!id.empty()) {
      j["progressDetail"] = json::object();
      j["id"] = id;
    }
    Send(j);
  }
  void Aux(const json& aux) { Send(json{{"progressDetail", json::object()}, {"aux", aux}}); }
  void Error(const std::string& message) {
    Send(json{{"errorDetail", {{"message", message}}}, {"error", message}});
  }

 private:
  ResponseWriter& w_;
  std::mutex mu_;
  bool gone_ = false;
};

// A FILE* whose lines become {"stream": line} messages, for the build's
// plain progress (build/progress.h writes to a FILE*).
class StreamFile {
 public:
  explicit StreamFile(JsonStream& s) : s_(s) {
    cookie_io_functions_t fns{nullptr, &StreamFile::WriteFn, nullptr, nullptr};
    file_ = ::fopencookie(this, "w", fns);
    if (file_ != nullptr) std::setvbuf(file_, nullptr, _IONBF, 0);
  }
  ~StreamFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!pending_.empty()) s_.Stream(pending_ + "\n");
  }
  StreamFile(const StreamFile&) = delete;
  StreamFile& operator=(const StreamFile&) = delete;
  std::FILE* file() { return file_ != nullptr ? file_ : stderr; }

 private:
  static ssize_t WriteFn(void* cookie, const char* buf, size_t n) {
    auto* self = static_cast<StreamFile*>(cookie);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->pending_.append(buf, n);
    size_t nl;
    while ((nl = self->pending_.find('\n')) != std::string::npos) {
      self->s_.Stream(self->pending_.substr(0, nl + 1));
      self->pending_.erase(0, nl + 1);
    }
    return static_cast<ssize_t>(n);
  }

  JsonStream& s_;
  std::FILE* file_ = nullptr;
  std::mutex mu_;
  std::string pending_;
};

// A copy's progress as docker's pull and push messages ("Pulling fs
// layer", "Pull complete", "Pushed", "Layer already exists", ...).
class JsonCopyProgress : public transfer::Progress {
 public:
  JsonCopyProgress(JsonStream& s, bool push) : s_(s), push_(push) {}
  void BlobStarted(const Descriptor& d) override {
    s_.StatusLine(push_ ? "Preparing" : "Pulling fs layer", Id(d));
  }
  void BlobFinished(const Descriptor& d, transfer::BlobOutcome o) override {
    const char* what = nullptr;
    switch (o) {
      case transfer::BlobOutcome::kCopied:
        what = push_ ? "Pushed" : "Pull complete";
        break;
      case transfer::BlobOutcome::kSkipped:
        what = push_ ? "Layer already exists" : "Already exists";
        break;
      case transfer::BlobOutcome::kMounted:
        what = "Mounted from another repository";
        break;
    }
    s_.StatusLine(what, Id(d));
  }
  void Retrying(const std::string& reason) override { s_.StatusLine("Retrying: " + reason); }

 private:
  static std::string Id(const Descriptor& d) { return d.digest.hex().substr(0, 12); }
  JsonStream& s_;
  bool push_;
};

// X-Registry-Auth: base64url(JSON AuthConfig) (api/types/registry). An
// empty object means no credentials.
Result<std::optional<Credential>> DecodeAuthHeader(const std::string* header) {
  if (header == nullptr || header->empty()) return std::optional<Credential>();
  // Base64Decode takes base64url and missing padding as well.
  Result<std::string> raw = Base64Decode(*header);
  if (!raw.ok()) {
    return Status(Code::kInvalidArgument, "invalid X-Registry-Auth header: not base64");
  }
  json j = json::parse(*raw, nullptr, false);
  if (!j.is_object()) {
    return Status(Code::kInvalidArgument, "invalid X-Registry-Auth header: not a JSON object");
  }
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  Credential c;
  c.username = str("username");
  c.password = str("password");
  if (c.empty() && !str("auth").empty()) {
    Result<std::string> up = Base64Decode(str("auth"));
    if (up.ok() && up->find(':') != std::string::npos) {
      c.username = up->substr(0, up->find(':'));
      c.password = up->substr(up->find(':') + 1);
    }
  }
  if (c.empty() && !str("identitytoken").empty()) {
    c.username = "<token>";
    c.password = str("identitytoken");
  }
  if (c.empty()) return std::optional<Credential>();
  return std::optional<Credential>(c);
}

// Streams the request body into a new file at `path`.
Status SaveBody(Request& req, const std::string& path) {
  store::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) return ErrnoStatus("create", path);
  std::vector<char> buf(1 << 20);
  while (true) {
    Result<size_t> n = req.body().Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    HOIST_RETURN_IF_ERROR(store::WriteAll(fd.get(), buf.data(), *n, path));
  }
  return Status::Ok();
}

Result<json> ReadJsonBody(Request& req) {
  Result<std::string> text = transfer::ReadAllLimited(req.body(), kMaxJsonBody);
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return Status(Code::kInvalidArgument, "the request body is not JSON");
  return j;
}

// A JSON query parameter (buildargs, labels, filters); null when absent.
Result<json> JsonQuery(const Request& req, const char* key) {
  std::optional<std::string> v = req.Query(key);
  if (!v || v->empty()) return json();
  json j = json::parse(*v, nullptr, false);
  if (j.is_discarded()) {
    return Status(Code::kInvalidArgument, std::string("invalid ") + key + " parameter: not JSON");
  }
  return j;
}

// filters={"k":["v"]} or the older {"k":{"v":true}}: the values of `key`.
std::vector<std::string> FilterValues(const json& filters, const char* key) {
  std::vector<std::string> out;
  if (!filters.is_object() || !filters.contains(key)) return out;
  const json& v = filters[key];
  if (v.is_array()) {
    for (const json& e : v) {
      if (e.is_string()) out.push_back(e.get<std::string>());
    }
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it->is_boolean() && it->get<bool>()) out.push_back(it.key());
    }
  }
  return out;
}

// A reads-only-one-member look into a tar (any compression libarchive
// reads): the member's bytes, or kNotFound.
Result<std::string> ReadTarMember(const std::string& file, const std::string& member,
                                  size_t limit) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(a, archive_read_free);
  if (archive_read_open_filename(a, file.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status(Code::kInvalidArgument,
                  std::string("not a tar archive: ") + archive_error_string(a));
  }
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    if (name != member) continue;
    if (archive_entry_size(e) > static_cast<la_int64_t>(limit)) {
      return Status(Code::kInvalidArgument, member + " is too large");
    }
    std::string out(static_cast<size_t>(archive_entry_size(e)), '\0');
    la_ssize_t got = archive_read_data(a, out.data(), out.size());
    if (got < 0 || static_cast<size_t>(got) != out.size()) {
      return Status(Code::kInvalidArgument, "truncated tar archive at " + member);
    }
    return out;
  }
  if (r != ARCHIVE_EOF) {
    return Status(Code::kInvalidArgument,
                  std::string("malformed tar archive: ") + archive_error_string(a));
  }
  return Status(Code::kNotFound, "no " + member + " in the archive");
}

// A private directory under the store's work directory, removed with it.
class WorkDir {
 public:
  static Result<std::unique_ptr<WorkDir>> Make(const std::string& store_root) {
    std::string parent = engine::paths::WorkDir(store_root);
    HOIST_RETURN_IF_ERROR(store::MakeDirs(parent));
    std::string tmpl = parent + "/engine-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl);
    return std::unique_ptr<WorkDir>(new WorkDir(tmpl));
  }
  ~WorkDir() { store::RemoveTree(path_); }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  explicit WorkDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

}  // namespace

struct Api::Impl {
  Impl(store::ContentStore& s, EngineOptions o)
      : store(s), opt(std::move(o)), images(s, opt.platform) {}

  // ---- shared helpers ------------------------------------------------------

  // Registry options for one request, with the client's credentials.
  RegistryClientOptions ClientOptions(const std::optional<Credential>& cred) const {
    RegistryClientOptions o = opt.client;
    if (cred) o.credential = cred;
    return o;
  }

  // Where a name lives: with --registry, Docker Hub names (the docker CLI
  // sends "app" as docker.io/library/app, so they cannot be told apart from
  // an explicit docker.io) go to that registry, path kept, as a mirror
  // would serve them.
  Result<Reference> Remote(const Reference& ref) const {
    if (opt.registry.empty() || ref.domain() != kDockerHubDomain) return ref;
    std::string s = opt.registry + "/" + ref.path();
    if (!ref.tag().empty()) s += ":" + ref.tag();
    if (ref.digest()) s += "@" + ref.digest()->str();
    return Reference::Parse(s);
  }

  // Where the build contexts' mirrors live (context_sync.h).
  std::string MirrorsDir() const { return store.root() + "/engine/contexts"; }

  // Copies with docker's pull or push messages on `stream`; nullopt after
  // streaming the error.
  std::optional<transfer::CopySummary> CopyReporting(transfer::ImageSource& src,
                                                     transfer::ImageSink& sink, JsonStream& stream,
                                                     bool push,
                                                     std::optional<transfer::Platform> platform) {
    JsonCopyProgress progress(stream, push);
    transfer::CopyOptions co;
    co.platform = std::move(platform);
    co.jobs = opt.jobs;
    co.progress = &progress;
    Result<transfer::CopySummary> sum = transfer::Copy(src, sink, co);
    if (!sum.ok()) {
      stream.Error(sum.status().message());
      return std::nullopt;
    }
    return std::move(*sum);
  }

  // Frees the blobs no image and no cache record uses any more.
  uint64_t FreeUnreferenced() {
    engine::PruneOptions po;
    Result<engine::PruneReport> r = engine::Prune(store, po);
    return r.ok() ? r->bytes_freed : 0;
  }

  // ---- negotiation ---------------------------------------------------------

  void Ping(Request&, ResponseWriter& w) {
    w.Set("API-Version", kApiVersion);
    // BuildKit's session API (POST /session, /build?version=2) as dockerd's
    // default, and the classic builder API for DOCKER_BUILDKIT=0; the
    // classic one alone when the BuildKit plugin cannot be loaded.
    w.Set("Builder-Version", LoadBuildkitPlugin(nullptr) != nullptr ? "2" : "1");
    w.Set("Docker-Experimental", "false");
    w.Set("OSType", "linux");
    w.Set("Cache-Control", "no-cache, no-store, must-revalidate");
    w.Set("Pragma", "no-cache");
    w.Send(200, "text/plain; charset=utf-8", "OK");
  }

  json VersionJson() const {
    struct utsname u {};
    ::uname(&u);
    json components = json::array({{{"Name", "Engine"},
                                    {"Version", opt.version},
                                    {"Details",
                                     {{"ApiVersion", kApiVersion},
                                      {"MinAPIVersion", kMinApiVersion},
                                      {"Os", "linux"},
                                      {"Arch", opt.platform.architecture},
                                      {"KernelVersion", u.release},
                                      {"Experimental", "false"},
                                      {"GitCommit", "hoist"},
                                      {"GoVersion", "n/a (C++)"}}}}});
    return {{"Platform", {{"Name", "hoist engine"}}},
            {"Components", components},
            {"Version", opt.version},
            {"ApiVersion", kApiVersion},
            {"MinAPIVersion", kMinApiVersion},
            {"GitCommit", "hoist"},
            {"GoVersion", "n/a (C++)"},
            {"Os", "linux"},
            {"Arch", opt.platform.architecture},
            {"KernelVersion", u.release},
            {"BuildTime", ""}};
  }

  void Info(Request&, ResponseWriter& w) {
    struct utsname u {};
    ::uname(&u);
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    Result<std::vector<LocalImage>> all = images.List();
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    json registry_config = {{"IndexConfigs", json::object()},
                            {"InsecureRegistryCIDRs", json::array({"127.0.0.0/8", "::1/128"})},
                            {"Mirrors", json::array()}};
    SendJson(w, 200,
             {{"ID", "hoist"},
              {"Containers", 0},
              {"ContainersRunning", 0},
              {"ContainersPaused", 0},
              {"ContainersStopped", 0},
              {"Images", all.ok() ? all->size() : 0},
              {"Driver", "hoist"},
              {"DriverStatus", json::array({json::array({"Store", store.root()}),
                                            json::array({"Registry", opt.registry})})},
              {"DockerRootDir", store.root()},
              {"Name", host},
              {"ServerVersion", opt.version},
              {"OperatingSystem", "hoist engine (images only, no containers)"},
              {"OSType", "linux"},
              {"OSVersion", ""},
              {"KernelVersion", u.release},
              {"Architecture", u.machine},
              {"NCPU", std::thread::hardware_concurrency()},
              {"MemTotal", static_cast<int64_t>(pages) * page},
              {"IndexServerAddress", std::string(kDockerHubConfigKey)},
              {"RegistryConfig", registry_config},
              {"Labels", json::array()},
              {"ExperimentalBuild", false},
              {"Warnings", json::array({std::string(kNoContainers)})}});
  }

  // ---- POST /build ---------------------------------------------------------

  // What POST /build asks for, both builder APIs alike.
  struct BuildRequest {
    engine::BuildOptions o;
    std::string dockerfile;  // the Dockerfile's name in the context (or its dir)
    std::vector<Reference> tags;
    std::vector<dockerfile::Platform> several;  // more than one --platform
    bool quiet = false;
    RegistryClientOptions client;
    std::unique_ptr<WorkDir> work;  // holds the build's docker config file
  };

  // Parses POST /build's query and headers; false after sending the error.
  bool ParseBuild(Request& req, ResponseWriter& w, BuildRequest* b) {
    engine::BuildOptions& o = b->o;
    std::string dockerfile = req.Query("dockerfile").value_or("Dockerfile");
    if (dockerfile.empty()) dockerfile = "Dockerfile";
    if (dockerfile[0] == '/' || dockerfile == ".." || dockerfile.rfind("../", 0) == 0 ||
        dockerfile.find("/../") != std::string::npos) {
      SendError(w, 400,
                "the Dockerfile (" + dockerfile +
                    ") must be inside the build context; the docker CLI sends one from "
                    "elsewhere inside the context's tar");
      return false;
    }
    b->dockerfile = dockerfile;
    Result<json> args = JsonQuery(req, "buildargs");
    Result<json> labels = JsonQuery(req, "labels");
    if (!args.ok() || !labels.ok()) {
      SendStatus(w, !args.ok() ? args.status() : labels.status());
      return false;
    }
    for (const json* j : {&*args, &*labels}) {
      if (!j->is_null() && !j->is_object()) {
        SendError(w, 400, "buildargs and labels must be JSON objects");
        return false;
      }
    }
    if (args->is_object()) {
      for (auto it = args->begin(); it != args->end(); ++it) {
        if (it->is_string()) o.build_args[it.key()] = it->get<std::string>();
      }
    }
    if (labels->is_object()) {
      for (auto it = labels->begin(); it != labels->end(); ++it) {
        if (it->is_string()) o.labels[it.key()] = it->get<std::string>();
      }
    }
    for (const std::string& t : req.QueryAll("t")) {
      if (t.empty()) continue;
      Result<Reference> r = Reference::Parse(t);
      if (!r.ok()) {
        SendError(w, 400, "invalid tag " + t + ": " + r.status().message());
        return false;
      }
      b->tags.push_back(*r);
    }
    if (std::optional<std::string> p = req.Query("platform"); p && !p->empty()) {
      Result<std::vector<dockerfile::Platform>> ps = dockerfile::ParsePlatforms(*p);
      if (!ps.ok()) {
        SendError(w, 400, "invalid platform " + *p + ": " + ps.status().message());
        return false;
      }
      if (ps->size() == 1) {
        o.platform = (*ps)[0];
      } else {
        b->several = *ps;
      }
    }
    o.target = req.Query("target").value_or("");
    o.no_cache = req.QueryBool("nocache");
    // Bases: a local image of that name first, as docker's classic builder
    // does (unless pull=1); else pulled, Docker Hub names from --registry.
    const bool pull = req.QueryBool("pull");
    o.base_lookup.local = [this, pull](const Reference& ref) -> std::optional<Descriptor> {
      if (pull) return std::nullopt;
      Result<LocalImage> img = images.Find(ref.String());
      if (!img.ok()) return std::nullopt;
      return img->top;
    };
    o.base_lookup.remote = [this](const Reference& ref) {
      Result<Reference> r = Remote(ref);
      return r.ok() ? *r : ref;
    };
    o.jobs = opt.jobs;
    engine::BuildFlags run_flags;  // isolation and snapshotter from the environment
    if (Status st = engine::ApplyRunFlags(run_flags, &o); !st.ok()) {
      SendStatus(w, st);
      return false;
    }
    b->quiet = req.QueryBool("q");

    // Credentials for base images: X-Registry-Config, a map of registry
    // host -> AuthConfig, becomes this build's docker config file.
    b->client = opt.client;
    if (const std::string* rc = req.Header("x-registry-config"); rc != nullptr && !rc->empty()) {
      Result<std::unique_ptr<WorkDir>> wd = WorkDir::Make(store.root());
      if (!wd.ok()) {
        SendStatus(w, wd.status());
        return false;
      }
      b->work = std::move(*wd);
      Result<std::string> cfg = RegistryConfigFile(*rc, b->work->path());
      if (!cfg.ok()) {
        SendStatus(w, cfg.status());
        return false;
      }
      b->client.docker_config = *cfg;
    }
    return true;
  }

  // Points the build at its context in a mirror directory, with the
  // Dockerfile at `dockerfile_path`; `hashed` are the files the sync just
  // wrote, seeded into the stat index. The error message on failure.
  Status UseContext(BuildRequest& b, const ContextMirror& mirror,
                    const std::string& dockerfile_path, const SyncResult& sync,
                    std::unique_ptr<engine::BuildContext>* keep) {
    const std::string& dir = mirror.dir();
    Result<std::unique_ptr<engine::BuildContext>> ctx =
        engine::OpenContext(dir, dockerfile_path, engine::paths::WorkDir(store.root()));
    if (!ctx.ok()) {
      if (ctx.status().code() == Code::kNotFound) {
        return Status(Code::kInvalidArgument,
                      "invalid build context: Cannot locate specified Dockerfile: " + b.dockerfile);
      }
      return Status(ctx.status().code(), "invalid build context: " + ctx.status().message());
    }
    b.o.dockerfile =
        std::make_shared<const dockerfile::Source>(b.dockerfile, (*ctx)->dockerfile_text);
    b.o.context_dir = (*ctx)->dir;
    b.o.ignore = (*ctx)->ignore;
    if (mirror.persistent() && (*ctx)->index_id) {
      b.o.context_index = engine::paths::ContextIndex(store.root(), *(*ctx)->index_id);
      HOIST_RETURN_IF_ERROR(engine::SeedIndex(dir, b.o.context_index, sync.hashed));
    }
    *keep = std::move(*ctx);
    return Status::Ok();
  }

  // Runs the build and names the image; the ID, or nullopt after
  // streaming the error.
  std::optional<LocalImage> RunBuild(BuildRequest& b, engine::BuildProgress& progress,
                                     JsonStream& stream) {
    Result<engine::BuildResult> r = Status(Code::kInternal, "the build did not run");
    {
      transfer::Places places(b.client);
      engine::Builder builder(store, places, progress);
      r = b.several.empty() ? builder.Build(b.o) : builder.BuildPlatforms(b.o, b.several);
    }
    if (!r.ok()) {
      stream.Error(r.status().message());
      return std::nullopt;
    }
    Result<LocalImage> img = images.Load(r->manifest);
    Status named = img.ok() ? Status::Ok() : img.status();
    for (const Reference& t : b.tags) {
      if (named.ok()) named = images.Tag(t, r->manifest);
    }
    if (named.ok() && b.tags.empty()) named = images.KeepUntagged(r->manifest);
    if (!named.ok()) {
      stream.Error("storing the image: " + named.message());
      return std::nullopt;
    }
    return std::move(*img);
  }

  void Build(Request& req, ResponseWriter& w) {
    if (req.Query("version").value_or("1") == "2") return BuildWithSession(req, w);
    if (req.Query("remote") && !req.Query("remote")->empty()) {
      SendError(w, 400, "remote build contexts are not supported; send the context as a tar");
      return;
    }
    BuildRequest b;
    if (!ParseBuild(req, w, &b)) return;

    // The context: the request body, a tar (plain or compressed), synced
    // into this tag set's mirror (context_sync.h).
    std::string key_text = b.dockerfile;
    for (const Reference& t : b.tags) key_text += "\n" + t.String();
    Result<std::unique_ptr<ContextMirror>> mirror =
        ContextMirror::Acquire(MirrorsDir(), DigestOf(key_text).hex().substr(0, 16));
    if (!mirror.ok()) {
      SendStatus(w, mirror.status());
      return;
    }
    const std::string& dir = (*mirror)->dir();
    Result<SyncResult> sync = SyncTarToDir(req.body(), dir);
    if (!sync.ok()) {
      SendError(w, 400, "invalid build context: " + sync.status().message());
      return;
    }
    std::unique_ptr<engine::BuildContext> ctx;
    if (Status st = UseContext(b, **mirror, dir + "/" + b.dockerfile, *sync, &ctx); !st.ok()) {
      SendError(w, st.code() == Code::kInvalidArgument ? 400 : HttpStatusOf(st), st.message());
      return;
    }

    JsonStream stream(w);
    if (!stream.Begin().ok()) return;
    if (!b.quiet) {
      stream.Stream("#0 [internal] load build context: " + SyncSummary(*sync) + "\n");
    }
    std::optional<LocalImage> img;
    {
      StreamFile out(stream);
      engine::BuildProgress progress(
          b.quiet ? engine::ProgressStyle::kQuiet : engine::ProgressStyle::kPlain, out.file());
      img = RunBuild(b, progress, stream);
    }
    if (!img) return;
    stream.Aux(json{{"ID", img->id.str()}});
    // Quiet builds end with the ID on the stream, which `docker build -q`
    // prints (dockerd's classic builder does the same).
    if (b.quiet) stream.Stream(img->id.str() + "\n");
    if (!b.quiet) {
      stream.Stream("Successfully built " + img->ShortId() + "\n");
      for (const Reference& t : b.tags) stream.Stream("Successfully tagged " + t.Familiar() + "\n");
    }
  }

  static std::string SyncSummary(const SyncResult& s) {
    return std::to_string(s.written) + " file(s) written (" +
           transfer::HumanBytes(static_cast<int64_t>(s.bytes_written)) + "), " +
           std::to_string(s.kept) + " unchanged, " + std::to_string(s.removed) + " removed";
  }

  // ---- POST /session, POST /build?version=2 (BuildKit) ----------------------

  // The BuildKit plugin, or a 501 saying why it is not there.
  static BuildkitSessions* Buildkit(ResponseWriter& w) {
    std::string why;
    BuildkitSessions* bk = LoadBuildkitPlugin(&why);
    if (bk == nullptr) SendError(w, 501, "BuildKit builds are not available here: " + why);
    return bk;
  }

  // The docker CLI's session for a BuildKit build (buildkit/sessions.h).
  void OpenSession(Request& req, ResponseWriter& w) {
    const std::string* up = req.Header("upgrade");
    std::string upgrade = up == nullptr ? "" : *up;
    std::transform(upgrade.begin(), upgrade.end(), upgrade.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (upgrade != "h2c") {
      SendError(w, 400, "POST /session upgrades the connection: Upgrade: h2c is required");
      return;
    }
    const std::string* id = req.Header("x-docker-expose-session-uuid");
    if (id == nullptr || id->empty()) {
      SendError(w, 400, "X-Docker-Expose-Session-Uuid is required");
      return;
    }
    BuildkitSessions* bk = Buildkit(w);
    if (bk == nullptr) return;
    SessionInfo info{*id, ""};
    if (const std::string* k = req.Header("x-docker-expose-session-sharedkey")) {
      info.shared_key = *k;
    }
    Result<int> fd = w.Upgrade("h2c");
    if (!fd.ok()) {
      if (!w.started()) SendStatus(w, fd.status());
      return;
    }
    bk->Add(*fd, std::move(info));
  }

  // A build whose context and Dockerfile come over the client's session
  // (buildkit_client.h), with BuildKit's progress: only changed
  // files move, so a rebuild sends little more than the file list.
  void BuildWithSession(Request& req, ResponseWriter& w) {
    std::string remote = req.Query("remote").value_or("");
    if (remote != "client-session") {
      SendError(w, 400,
                remote.empty() || remote == "upload-request"
                    ? "hoist engine takes a BuildKit build's context from the client's "
                      "session; a tar on stdin is not supported with BuildKit here"
                    : "remote build contexts are not supported: " + remote);
      return;
    }
    if (req.Query("buildid").value_or("").rfind("upload-request:", 0) == 0) {
      SendError(w, 400, "uploaded build contexts are not supported with BuildKit here");
      return;
    }
    // The session first: every way out of this build closes it, which
    // ends the CLI's side too.
    BuildkitSessions* bk = Buildkit(w);
    if (bk == nullptr) return;
    std::string sid = req.Query("session").value_or("");
    std::optional<SessionInfo> session =
        sid.empty() ? std::nullopt : bk->Wait(sid, std::chrono::seconds(30));
    if (!session) {
      SendError(w, 400, "no build session " + sid + " (POST /session first)");
      return;
    }
    // After a build that ran to its end, the CLI closes the session when it
    // has read the response; on an error, the engine closes it.
    struct Forget {
      BuildkitSessions& m;
      std::string id;
      bool keep = false;
      ~Forget() {
        if (keep) {
          m.Done(id);
        } else {
          m.Close(id);
        }
      }
    } forget{*bk, sid};
    BuildRequest b;
    if (!ParseBuild(req, w, &b)) return;

    JsonStream stream(w);
    if (!stream.Begin().ok()) return;
    // -q: the CLI shows nothing but the ID (and the error), as dockerd's.
    BuildkitTrace trace(
        *bk, [&stream](const json& j) { stream.Send(j); }, req.Query("buildid").value_or(sid));
    engine::BuildProgress progress(engine::ProgressStyle::kQuiet, stderr);
    if (!b.quiet) progress.Observe(std::ref(trace));

    // The Dockerfile's directory (only the Dockerfile and its ignore file)
    // and the .dockerignore, then the context with those exclusions.
    Result<std::unique_ptr<WorkDir>> scratch = WorkDir::Make(store.root());
    if (!scratch.ok()) return stream.Error(scratch.status().message());
    const std::string df_dir = (*scratch)->path() + "/dockerfile";
    DiffCopyRequest df_req{"dockerfile", {b.dockerfile, b.dockerfile + ".dockerignore"}, {}};
    Result<SyncResult> df = DiffCopyToDir(*bk, sid, df_req, df_dir);
    if (!df.ok()) return stream.Error("transferring the Dockerfile: " + df.status().message());

    int v = progress.Start("[internal] load .dockerignore");
    constexpr size_t kIgnoreLimit = 1 << 20;
    Result<std::string> ignore_text =
        transfer::ReadSmallFile(df_dir + "/" + b.dockerfile + ".dockerignore", kIgnoreLimit);
    if (!ignore_text.ok()) {
      const std::string ig_dir = (*scratch)->path() + "/ignore";
      Result<SyncResult> ig =
          DiffCopyToDir(*bk, sid, DiffCopyRequest{"context", {".dockerignore"}, {}}, ig_dir);
      if (!ig.ok()) return Failed(progress, v, stream, ig.status());
      ignore_text = transfer::ReadSmallFile(ig_dir + "/.dockerignore", kIgnoreLimit);
    }
    Result<std::vector<std::string>> excludes =
        dockerfile::DockerIgnore::ReadPatterns(ignore_text.ok() ? *ignore_text : "");
    if (!excludes.ok()) return Failed(progress, v, stream, excludes.status());
    progress.Done(v);

    // One mirror per context directory: the session's shared key is the
    // CLI's name for it (its node ID and the context path).
    std::string key_text =
        "session\n" + (session->shared_key.empty() ? b.dockerfile : session->shared_key);
    Result<std::unique_ptr<ContextMirror>> mirror =
        ContextMirror::Acquire(MirrorsDir(), DigestOf(key_text).hex().substr(0, 16));
    if (!mirror.ok()) return stream.Error(mirror.status().message());
    v = progress.Start("[internal] transfer build context");
    Result<SyncResult> sync =
        DiffCopyToDir(*bk, sid, DiffCopyRequest{"context", {}, *excludes}, (*mirror)->dir());
    if (!sync.ok()) return Failed(progress, v, stream, sync.status());
    progress.Log(v, "transferring context: " + SyncSummary(*sync));
    std::unique_ptr<engine::BuildContext> ctx;
    if (Status st = UseContext(b, **mirror, df_dir + "/" + b.dockerfile, *sync, &ctx); !st.ok()) {
      return Failed(progress, v, stream, st);
    }
    progress.Done(v);

    std::optional<LocalImage> img = RunBuild(b, progress, stream);
    if (!img) return;
    forget.keep = true;
    stream.Send(json{{"id", "moby.image.id"}, {"aux", {{"ID", img->id.str()}}}});
    if (b.quiet) stream.Stream(img->id.str() + "\n");
  }

  static void Failed(engine::BuildProgress& progress, int vertex, JsonStream& stream,
                     const Status& st) {
    progress.Error(vertex, st.message());
    stream.Error(st.message());
  }

  // POST /build/cancel: the CLI's Ctrl-C; builds here end with their
  // connection, so there is nothing to do.
  void CancelBuild(Request&, ResponseWriter& w) { w.Send(200, "", ""); }

  // X-Registry-Config -> a docker config file with those "auths".
  static Result<std::string> RegistryConfigFile(const std::string& header, const std::string& dir) {
    // Base64Decode takes base64url and missing padding as well.
    Result<std::string> raw = Base64Decode(header);
    json j = raw.ok() ? json::parse(*raw, nullptr, false) : json(json::value_t::discarded);
    if (j.is_null()) j = json::object();  // BuildKit's CLI sends "null"
    if (!j.is_object()) {
      return Status(Code::kInvalidArgument, "invalid X-Registry-Config header");
    }
    json auths = json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it->is_object()) continue;
      std::string user = it->value("username", ""), pass = it->value("password", "");
      std::string auth = it->value("auth", "");
      if (auth.empty() && !(user.empty() && pass.empty())) auth = Base64Encode(user + ":" + pass);
      if (auth.empty()) continue;
      Result<std::string> host = NormalizeRegistryHost(it.key());
      std::string key = host.ok() && *host == kDockerHubDomain ? std::string(kDockerHubConfigKey)
                                                               : (host.ok() ? *host : it.key());
      auths[key] = {{"auth", auth}};
    }
    std::string path = dir + "/config.json";
    HOIST_RETURN_IF_ERROR(transfer::WriteFileAtomic(path, json{{"auths", auths}}.dump()));
    return path;
  }

  // ---- POST /images/create (pull) -----------------------------------------

  void Pull(Request& req, ResponseWriter& w) {
    if (req.Query("fromSrc")) {
      SendError(w, 501, "docker import (fromSrc) is not supported by hoist engine");
      return;
    }
    std::string spec = req.Query("fromImage").value_or("");
    std::string tag = req.Query("tag").value_or("");
    if (spec.empty()) {
      SendError(w, 400, "fromImage is required");
      return;
    }
    Result<Reference> bare = Reference::Parse(spec, false);
    if (bare.ok() && bare->tag().empty() && !bare->digest() && !tag.empty()) {
      spec += (tag.rfind("sha256:", 0) == 0 ? "@" : ":") + tag;
    }
    Result<Reference> ref = Reference::Parse(spec);
    if (!ref.ok()) {
      SendError(w, 400, "invalid reference format: " + ref.status().message());
      return;
    }
    Result<Reference> remote = Remote(*ref);
    Result<std::optional<Credential>> cred = DecodeAuthHeader(req.Header("x-registry-auth"));
    if (!remote.ok() || !cred.ok()) {
      SendStatus(w, !remote.ok() ? remote.status() : cred.status());
      return;
    }
    transfer::Platform platform = opt.platform;
    if (std::optional<std::string> p = req.Query("platform"); p && !p->empty()) {
      Result<transfer::Platform> pp = transfer::Platform::Parse(*p);
      if (!pp.ok()) {
        SendError(w, 400, "invalid platform " + *p + ": " + pp.status().message());
        return;
      }
      platform = *pp;
    }
    transfer::Places places(ClientOptions(*cred));
    transfer::RemoteSource src(places.Client(remote->domain()), *remote);
    // Errors a client should see as a status (not found, denied) come
    // from the first manifest GET, before the stream starts.
    Result<transfer::Manifest> top = src.TopManifest();
    if (!top.ok()) {
      SendError(w, HttpStatusOf(top.status()),
                "pull " + remote->Familiar() + ": " + top.status().message());
      return;
    }
    JsonStream stream(w);
    if (!stream.Begin().ok()) return;
    stream.StatusLine("Pulling from " + remote->path(),
                      ref->tag().empty() ? ref->digest()->str() : ref->tag());
    engine::StoreImageSink sink(store);
    std::optional<transfer::CopySummary> sum = CopyReporting(src, sink, stream, false, platform);
    if (!sum) return;
    Descriptor d = sum->top.descriptor();
    Result<LocalImage> before = images.Find(ref->String());
    bool same = before.ok() && before->top.digest == d.digest;
    Status st = ref->tag().empty() ? images.KeepUntagged(d) : images.Tag(*ref, d);
    if (st.ok()) st = images.AddRepoDigest(d, *ref);
    if (!st.ok()) {
      stream.Error(st.message());
      return;
    }
    stream.StatusLine("Digest: " + d.digest.str());
    stream.StatusLine(std::string(same ? "Status: Image is up to date for "
                                       : "Status: Downloaded newer image for ") +
                      ref->Familiar());
  }

  // ---- POST /images/{name}/push -------------------------------------------

  void Push(Request& req, ResponseWriter& w, const std::string& name) {
    std::string tag = req.Query("tag").value_or("");
    Result<Reference> repo = Reference::Parse(name, false);
    if (!repo.ok()) {
      SendError(w, 400, "invalid reference format: " + repo.status().message());
      return;
    }
    std::vector<Reference> refs;
    if (!tag.empty()) {
      refs.push_back(repo->WithoutTagOrDigest().WithTag(tag));
    } else if (!repo->tag().empty()) {
      refs.push_back(*repo);
    } else {
      // Every local tag of the repository (docker push --all-tags).
      Result<std::vector<LocalImage>> all = images.List();
      if (!all.ok()) {
        SendStatus(w, all.status());
        return;
      }
      for (const LocalImage& i : *all) {
        for (const std::string& n : i.names) {
          Result<Reference> r = Reference::Parse(n);
          if (r.ok() && r->Name() == repo->Name() && !r->tag().empty()) refs.push_back(*r);
        }
      }
    }
    std::vector<LocalImage> found;
    for (const Reference& r : refs) {
      Result<LocalImage> img = images.Find(r.String());
      if (!img.ok()) {
        SendError(w, 404, "An image does not exist locally with the tag: " + r.Familiar());
        return;
      }
      found.push_back(*img);
    }
    if (refs.empty()) {
      SendError(w, 404, "An image does not exist locally with the tag: " + repo->Familiar());
      return;
    }
    Result<std::optional<Credential>> cred = DecodeAuthHeader(req.Header("x-registry-auth"));
    if (!cred.ok()) {
      SendStatus(w, cred.status());
      return;
    }
    JsonStream stream(w);
    if (!stream.Begin().ok()) return;
    transfer::Places places(ClientOptions(*cred));
    for (size_t i = 0; i < refs.size(); ++i) {
      Result<Reference> dest = Remote(refs[i]);
      if (!dest.ok()) {
        stream.Error(dest.status().message());
        return;
      }
      stream.StatusLine("The push refers to repository [" + dest->Name() + "]");
      engine::StoreImageSource src(store, found[i].top, refs[i].String());
      transfer::RemoteSink sink(places.Client(dest->domain()), *dest);
      std::optional<transfer::CopySummary> sum =
          CopyReporting(src, sink, stream, true, std::nullopt);
      if (!sum) return;
      images.AddRepoDigest(found[i].top, *dest);
      const std::string digest = sum->top.digest.str();
      const size_t size = sum->top.bytes.size();
      stream.StatusLine(dest->tag() + ": digest: " + digest + " size: " + std::to_string(size));
      stream.Aux(json{{"Tag", dest->tag()}, {"Digest", digest}, {"Size", size}});
    }
  }

  // ---- GET /images/json ----------------------------------------------------

  void List(Request& req, ResponseWriter& w) {
    Result<json> filters = JsonQuery(req, "filters");
    if (!filters.ok()) {
      SendStatus(w, filters.status());
      return;
    }
    Result<std::vector<LocalImage>> all = images.List();
    if (!all.ok()) {
      SendStatus(w, all.status());
      return;
    }
    std::vector<std::string> dangling = FilterValues(*filters, "dangling");
    std::vector<std::string> references = FilterValues(*filters, "reference");
    std::vector<std::string> label_filters = FilterValues(*filters, "label");
    auto created_of = [&](const std::string& what) -> std::optional<int64_t> {
      Result<LocalImage> i = images.Find(what);
      return i.ok() ? std::optional<int64_t>(i->created) : std::nullopt;
    };
    std::vector<std::string> before = FilterValues(*filters, "before");
    std::vector<std::string> since = FilterValues(*filters, "since");
    json out = json::array();
    std::vector<LocalImage> sorted = *all;
    std::stable_sort(sorted.begin(), sorted.end(), [](const LocalImage& a, const LocalImage& b) {
      return a.created > b.created;
    });
    for (const LocalImage& i : sorted) {
      if (!dangling.empty()) {
        bool want = dangling[0] == "true" || dangling[0] == "1";
        if (want != i.names.empty()) continue;
      }
      std::vector<std::string> tags;
      for (const std::string& n : i.names) tags.push_back(Familiar(n));
      if (!references.empty()) {
        // Docker keeps only the matching names (pattern over "repo:tag"
        // or "repo", path.Match style).
        std::vector<std::string> kept;
        for (const std::string& t : tags) {
          Result<Reference> r = Reference::Parse(t);
          std::string repo = r.ok() ? r->WithoutTagOrDigest().Familiar() : t;
          for (const std::string& pat : references) {
            if (::fnmatch(pat.c_str(), t.c_str(), FNM_PATHNAME) == 0 ||
                ::fnmatch(pat.c_str(), repo.c_str(), FNM_PATHNAME) == 0) {
              kept.push_back(t);
              break;
            }
          }
        }
        if (kept.empty()) continue;
        tags = kept;
      }
      json cfg_labels = LabelsOf(i);
      bool labels_ok = true;
      for (const std::string& l : label_filters) {
        size_t eq = l.find('=');
        std::string k = l.substr(0, eq);
        if (!cfg_labels.contains(k) ||
            (eq != std::string::npos && cfg_labels[k] != l.substr(eq + 1))) {
          labels_ok = false;
        }
      }
      if (!labels_ok) continue;
      bool time_ok = true;
      for (const std::string& b : before) {
        std::optional<int64_t> t = created_of(b);
        if (!t || i.created >= *t) time_ok = false;
      }
      for (const std::string& s : since) {
        std::optional<int64_t> t = created_of(s);
        if (!t || i.created <= *t) time_ok = false;
      }
      if (!time_ok) continue;
      out.push_back({{"Id", i.id.str()},
                     {"ParentId", ""},
                     {"RepoTags", tags},
                     {"RepoDigests", i.repo_digests},
                     {"Created", i.created},
                     {"Size", i.size},
                     {"SharedSize", -1},
                     {"VirtualSize", i.size},
                     {"Labels", cfg_labels},
                     {"Containers", -1}});
    }
    SendJson(w, 200, out);
  }

  static json LabelsOf(const LocalImage& i) {
    json cfg = ConfigMember(i, "config", json::object());
    return cfg.contains("Labels") && cfg["Labels"].is_object() ? cfg["Labels"] : json::object();
  }

  // ---- GET /images/{name}/json, /history ----------------------------------

  // The image `name` names, or nullopt after answering the error.
  std::optional<LocalImage> FindOrAnswer(ResponseWriter& w, const std::string& name) {
    Result<LocalImage> i = images.Find(name);
    if (!i.ok()) {
      SendStatus(w, i.status());
      return std::nullopt;
    }
    return std::move(*i);
  }

  // A member of the image config ("config", "history", ...) when it has
  // the type wanted, else `fallback`.
  static json ConfigMember(const LocalImage& i, const char* key, json fallback) {
    if (i.config.contains(key) && i.config[key].type() == fallback.type()) return i.config[key];
    return fallback;
  }

  void Inspect(ResponseWriter& w, const std::string& name) {
    std::optional<LocalImage> i = FindOrAnswer(w, name);
    if (!i) return;
    json cfg = ConfigMember(*i, "config", json::object());
    // The container config docker fills in for images.
    for (const char* k : {"Hostname", "Domainname", "User", "WorkingDir", "Image"}) {
      if (!cfg.contains(k)) cfg[k] = "";
    }
    for (const char* k :
         {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"}) {
      if (!cfg.contains(k)) cfg[k] = false;
    }
    for (const char* k : {"Env", "Cmd", "Entrypoint", "Volumes", "OnBuild", "Labels"}) {
      if (!cfg.contains(k)) cfg[k] = nullptr;
    }
    json diff_ids = json::array();
    if (i->config.contains("rootfs") && i->config["rootfs"].contains("diff_ids")) {
      diff_ids = i->config["rootfs"]["diff_ids"];
    }
    std::vector<std::string> tags;
    for (const std::string& n : i->names) tags.push_back(Familiar(n));
    json out = {{"Id", i->id.str()},
                {"RepoTags", tags},
                {"RepoDigests", i->repo_digests},
                {"Parent", ""},
                {"Comment", i->config.value("comment", "")},
                {"Created", i->config.value("created", FormatUtcSeconds(i->created))},
                {"DockerVersion", ""},
                {"Author", i->config.value("author", "")},
                {"Config", cfg},
                {"Architecture", i->config.value("architecture", "")},
                {"Os", i->config.value("os", "")},
                {"Size", i->size},
                {"VirtualSize", i->size},
                {"GraphDriver", {{"Name", "hoist"}, {"Data", nullptr}}},
                {"RootFS", {{"Type", "layers"}, {"Layers", diff_ids}}},
                {"Metadata", {{"LastTagTime", "0001-01-01T00:00:00Z"}}},
                {"Descriptor",
                 {{"mediaType", i->top.media_type},
                  {"digest", i->top.digest.str()},
                  {"size", i->top.size}}}};
    if (i->config.contains("variant")) out["Variant"] = i->config["variant"];
    SendJson(w, 200, out);
  }

  void History(ResponseWriter& w, const std::string& name) {
    std::optional<LocalImage> i = FindOrAnswer(w, name);
    if (!i) return;
    json hist = ConfigMember(*i, "history", json::array());
    json out = json::array();
    size_t layer = 0;
    for (const json& h : hist) {
      int64_t size = 0;
      if (!h.value("empty_layer", false) && layer < i->layers.size()) {
        Result<store::LayerInfo> info = store.GetLayerInfo(i->layers[layer].digest);
        size = info.ok() && info->tar_size > 0 ? static_cast<int64_t>(info->tar_size)
                                               : i->layers[layer].size;
        ++layer;
      }
      out.push_back({{"Id", "<missing>"},
                     {"Created", ParseTime(h.value("created", ""))},
                     {"CreatedBy", h.value("created_by", "")},
                     {"Tags", nullptr},
                     {"Size", size},
                     {"Comment", h.value("comment", "")}});
    }
    std::reverse(out.begin(), out.end());
    if (out.empty()) {
      out.push_back({{"Id", i->id.str()},
                     {"Created", i->created},
                     {"CreatedBy", ""},
                     {"Tags", nullptr},
                     {"Size", i->size},
                     {"Comment", ""}});
    }
    out[0]["Id"] = i->id.str();
    std::vector<std::string> tags;
    for (const std::string& n : i->names) tags.push_back(Familiar(n));
    if (!tags.empty()) out[0]["Tags"] = tags;
    SendJson(w, 200, out);
  }

  static int64_t ParseTime(const std::string& s) {
    std::tm tm{};
    if (::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
    return static_cast<int64_t>(::timegm(&tm));
  }

  // ---- tag, rmi, prune -----------------------------------------------------

  void Tag(Request& req, ResponseWriter& w, const std::string& name) {
    std::string repo = req.Query("repo").value_or("");
    std::string tag = req.Query("tag").value_or("");
    if (repo.empty()) {
      SendError(w, 400, "repo is required");
      return;
    }
    Result<Reference> r = Reference::Parse(repo + (tag.empty() ? "" : ":" + tag));
    if (!r.ok() || r->digest()) {
      SendError(
          w, 400,
          "invalid tag " + repo + (tag.empty() ? "" : ":" + tag) + ": " +
              (r.ok() ? "refusing to create a tag with a digest reference" : r.status().message()));
      return;
    }
    Result<LocalImage> i = images.Find(name);
    if (!i.ok()) {
      SendStatus(w, i.status());
      return;
    }
    if (Status st = images.Tag(*r, i->top); !st.ok()) {
      SendStatus(w, st);
      return;
    }
    w.Send(201, "", "");
  }

  void Delete(Request& req, ResponseWriter& w, const std::string& name) {
    Result<std::vector<DeleteEvent>> events = images.Remove(name, req.QueryBool("force"));
    if (!events.ok()) {
      SendStatus(w, events.status());
      return;
    }
    json out = json::array();
    bool deleted = false;
    for (const DeleteEvent& e : *events) {
      out.push_back({{e.deleted ? "Deleted" : "Untagged", e.what}});
      deleted = deleted || e.deleted;
    }
    if (deleted && !req.QueryBool("noprune")) FreeUnreferenced();
    SendJson(w, 200, out);
  }

  void PruneImages(Request& req, ResponseWriter& w) {
    Result<json> filters = JsonQuery(req, "filters");
    if (!filters.ok()) {
      SendStatus(w, filters.status());
      return;
    }
    std::vector<std::string> dangling = FilterValues(*filters, "dangling");
    bool all = !dangling.empty() && (dangling[0] == "false" || dangling[0] == "0");
    Result<std::vector<std::string>> ids = images.PruneUntagged(all);
    if (!ids.ok()) {
      SendStatus(w, ids.status());
      return;
    }
    json deleted = json::array();
    for (const std::string& id : *ids) deleted.push_back({{"Deleted", id}});
    uint64_t freed = FreeUnreferenced();
    SendJson(
        w, 200,
        {{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", freed}});
  }

  void PruneBuildCache(Request& req, ResponseWriter& w) {
    engine::PruneOptions po;
    // No container ever holds a cache record here: every record is unused,
    // so `docker builder prune` with or without --all removes them all.
    po.all = true;
    (void)req;
    ContextMirror::RemoveIdle(MirrorsDir(), 0);
    Result<engine::PruneReport> r = engine::Prune(store, po);
    if (!r.ok()) {
      SendStatus(w, r.status());
      return;
    }
    SendJson(w, 200, {{"CachesDeleted", json::array()}, {"SpaceReclaimed", r->bytes_freed}});
  }

  // ---- save and load -------------------------------------------------------

  void Save(Request& req, ResponseWriter& w, std::vector<std::string> names) {
    if (names.empty()) {
      SendError(w, 400, "no image names given");
      return;
    }
    // Each image once, in the order asked, with the names asked for it
    // that it holds (its RepoTags; an ID gives none), as docker saves them.
    struct Saved {
      LocalImage image;
      std::string asked;
      std::vector<Reference> tags;
    };
    std::vector<Saved> saved;
    for (const std::string& n : names) {
      Result<LocalImage> img = images.Find(n);
      if (!img.ok()) {
        SendStatus(w, img.status());
        return;
      }
      auto it = std::find_if(saved.begin(), saved.end(),
                             [&](const Saved& s) { return s.image.id == img->id; });
      if (it == saved.end()) it = saved.insert(saved.end(), Saved{*img, n, {}});
      Result<Reference> r = Reference::Parse(n);
      if (r.ok() &&
          std::find(img->names.begin(), img->names.end(), r->String()) != img->names.end() &&
          std::find(it->tags.begin(), it->tags.end(), *r) == it->tags.end()) {
        it->tags.push_back(*r);
      }
    }
    (void)req;
    Result<std::unique_ptr<WorkDir>> work = WorkDir::Make(store.root());
    if (!work.ok()) {
      SendStatus(w, work.status());
      return;
    }
    const std::string file = (*work)->path() + "/images.tar";
    Result<std::unique_ptr<transfer::DockerArchiveWriter>> writer =
        transfer::DockerArchiveWriter::Open(file, "docker-archive:" + names[0]);
    if (!writer.ok()) {
      SendStatus(w, writer.status());
      return;
    }
    transfer::CopyOptions co;
    co.platform = opt.platform;
    co.jobs = opt.jobs;
    for (const Saved& s : saved) {
      Result<std::unique_ptr<transfer::ImageSink>> sink = (*writer)->Add(s.tags);
      if (!sink.ok()) {
        SendStatus(w, sink.status());
        return;
      }
      engine::StoreImageSource src(store, s.image.top, s.asked);
      Result<transfer::CopySummary> sum = transfer::Copy(src, **sink, co);
      if (!sum.ok()) {
        SendStatus(w, sum.status());
        return;
      }
    }
    if (Status st = (*writer)->Commit(); !st.ok()) {
      SendStatus(w, st);
      return;
    }
    Result<std::unique_ptr<store::FileSource>> f = store::OpenFileSource(file);
    if (!f.ok()) {
      SendStatus(w, f.status());
      return;
    }
    if (!w.Begin(200, "application/x-tar").ok()) return;
    std::vector<char> buf(1 << 20);
    while (true) {
      Result<size_t> n = (*f)->Read(buf.data(), buf.size());
      if (!n.ok() || *n == 0) break;
      if (!w.Write(std::string_view(buf.data(), *n)).ok()) return;
    }
  }

  void Load(Request& req, ResponseWriter& w) {
    Result<std::unique_ptr<WorkDir>> work = WorkDir::Make(store.root());
    if (!work.ok()) {
      SendStatus(w, work.status());
      return;
    }
    const std::string file = (*work)->path() + "/load.tar";
    if (Status st = SaveBody(req, file); !st.ok()) {
      SendError(w, 400, "reading the image archive: " + st.message());
      return;
    }
    // manifest.json lists the images and their names (docker save);
    // an OCI layout tar without it holds one unnamed image.
    std::vector<std::vector<std::string>> entries;
    Result<std::string> manifest = ReadTarMember(file, "manifest.json", 8 << 20);
    if (manifest.ok()) {
      json list = json::parse(*manifest, nullptr, false);
      if (!list.is_array() || list.empty()) {
        SendError(w, 400, "invalid image archive: manifest.json is not a list of images");
        return;
      }
      for (const json& e : list) {
        std::vector<std::string> tags;
        if (e.is_object() && e.contains("RepoTags") && e["RepoTags"].is_array()) {
          for (const json& t : e["RepoTags"]) {
            if (t.is_string()) tags.push_back(t.get<std::string>());
          }
        }
        entries.push_back(tags);
      }
    } else if (manifest.status().code() == Code::kNotFound) {
      entries.push_back({});
    } else {
      SendError(w, 400, "invalid image archive: " + manifest.status().message());
      return;
    }
    // Open every image before answering, so a bad archive is a 400.
    std::vector<std::unique_ptr<transfer::ImageSource>> sources;
    for (const std::vector<std::string>& tags : entries) {
      std::optional<Reference> ref;
      if (!tags.empty()) {
        Result<Reference> r = Reference::Parse(tags[0]);
        if (!r.ok()) {
          SendError(w, 400, "invalid image archive: bad RepoTags entry " + tags[0]);
          return;
        }
        ref = *r;
      }
      Result<std::unique_ptr<transfer::ImageSource>> src =
          transfer::OpenDockerArchiveSource(file, ref, "the loaded archive");
      if (!src.ok()) {
        SendError(w, 400, "invalid image archive: " + src.status().message());
        return;
      }
      sources.push_back(std::move(*src));
    }
    JsonStream stream(w);
    if (!stream.Begin().ok()) return;
    for (size_t k = 0; k < sources.size(); ++k) {
      engine::StoreImageSink sink(store);
      transfer::CopyOptions co;
      co.platform = opt.platform;
      co.jobs = opt.jobs;
      Result<transfer::CopySummary> sum = transfer::Copy(*sources[k], sink, co);
      if (!sum.ok()) {
        stream.Error("loading the image: " + sum.status().message());
        return;
      }
      Descriptor d = sum->top.descriptor();
      Result<LocalImage> img = images.Load(d);
      if (!img.ok()) {
        stream.Error("loading the image: " + img.status().message());
        return;
      }
      Status st = Status::Ok();
      for (const std::string& t : entries[k]) {
        Result<Reference> r = Reference::Parse(t);
        if (st.ok() && r.ok()) st = images.Tag(*r, d);
        if (st.ok() && r.ok()) stream.Stream("Loaded image: " + r->Familiar() + "\n");
      }
      if (entries[k].empty()) {
        st = images.KeepUntagged(d);
        if (st.ok()) stream.Stream("Loaded image ID: " + img->id.str() + "\n");
      }
      if (!st.ok()) {
        stream.Error("loading the image: " + st.message());
        return;
      }
    }
  }

  // ---- POST /auth ----------------------------------------------------------

  void Auth(Request& req, ResponseWriter& w) {
    Result<json> body = ReadJsonBody(req);
    if (!body.ok() || !body->is_object()) {
      SendError(w, 400, "the body must be a JSON AuthConfig object");
      return;
    }
    std::string server = body->value("serveraddress", "");
    Result<std::string> host =
        NormalizeRegistryHost(server.empty() ? std::string(kDockerHubDomain) : server);
    if (!host.ok()) {
      SendError(w, 400, "invalid serveraddress " + server + ": " + host.status().message());
      return;
    }
    Credential c{body->value("username", ""), body->value("password", "")};
    if (c.empty() && !body->value("identitytoken", "").empty()) {
      c = {"<token>", body->value("identitytoken", "")};
    }
    RegistryClient client(*host,
                          ClientOptions(c.empty() ? std::nullopt : std::optional<Credential>(c)));
    Status st = client.Ping(true);
    if (!st.ok()) {
      int code = st.code() == Code::kUnauthorized || st.code() == Code::kDenied ? 401 : 500;
      SendError(w, code, "login to " + *host + " failed: " + st.message());
      return;
    }
    SendJson(w, 200, {{"Status", "Login Succeeded"}, {"IdentityToken", ""}});
  }

  // ---- what hoist does not do ----------------------------------------------

  void NotAnImageEndpoint(Request& req, ResponseWriter& w, const std::string& path) {
    static const char* kObjects[] = {"/containers/", "/networks/", "/volumes/", "/exec/",
                                     "/plugins/",    "/secrets/",  "/configs/", "/services/",
                                     "/nodes/",      "/tasks/"};
    // A look-up of one object: not found, so `docker inspect NAME` goes on
    // to look for an image.
    if (req.method == "GET") {
      for (const char* prefix : kObjects) {
        std::string p = prefix;
        if (path.rfind(p, 0) == 0 && path.size() > p.size() + 5 &&
            path.compare(path.size() - 5, 5, "/json") == 0) {
          SendError(w, 404,
                    "No such object: " + path.substr(p.size(), path.size() - p.size() - 5) + " (" +
                        kNoContainers + ")");
          return;
        }
        if (path.rfind(p, 0) == 0 && path.size() > p.size() &&
            path.find('/', p.size()) == std::string::npos && p != "/containers/" && p != "/exec/") {
          SendError(w, 404,
                    "No such object: " + path.substr(p.size()) + " (" + kNoContainers + ")");
          return;
        }
      }
    }
    SendError(w, 501,
              std::string(kNoContainers) + ": " + req.method + " " + path + " is not available");
  }

  // ---- routing -------------------------------------------------------------

  void Route(Request& req, ResponseWriter& w) {
    const std::string path = StripVersion(req.path);
    const std::string& m = req.method;
    if (path == "/_ping" && (m == "GET" || m == "HEAD")) return Ping(req, w);
    if (path == "/version" && m == "GET") return SendJson(w, 200, VersionJson());
    if (path == "/info" && m == "GET") return Info(req, w);
    if (path == "/build" && m == "POST") return Build(req, w);
    if (path == "/build/prune" && m == "POST") return PruneBuildCache(req, w);
    if (path == "/build/cancel" && m == "POST") return CancelBuild(req, w);
    if (path == "/session" && m == "POST") return OpenSession(req, w);
    if (path == "/auth" && m == "POST") return Auth(req, w);
    if (path == "/images/json" && m == "GET") return List(req, w);
    if (path == "/images/create" && m == "POST") return Pull(req, w);
    if (path == "/images/load" && m == "POST") return Load(req, w);
    if (path == "/images/prune" && m == "POST") return PruneImages(req, w);
    if (path == "/images/search" && m == "GET") return SendJson(w, 200, json::array());
    if (path == "/images/get" && m == "GET") return Save(req, w, req.QueryAll("names"));
    const std::string kImages = "/images/";
    if (path.rfind(kImages, 0) == 0 && path.size() > kImages.size()) {
      std::string rest = path.substr(kImages.size());
      auto ends = [&](const char* suffix) {
        std::string s = suffix;
        return rest.size() > s.size() && rest.compare(rest.size() - s.size(), s.size(), s) == 0;
      };
      auto name_before = [&](const char* suffix) {
        return rest.substr(0, rest.size() - std::string(suffix).size());
      };
      if (m == "GET" && ends("/json")) return Inspect(w, name_before("/json"));
      if (m == "GET" && ends("/history")) return History(w, name_before("/history"));
      if (m == "GET" && ends("/get")) return Save(req, w, {name_before("/get")});
      if (m == "POST" && ends("/push")) return Push(req, w, name_before("/push"));
      if (m == "POST" && ends("/tag")) return Tag(req, w, name_before("/tag"));
      if (m == "DELETE") return Delete(req, w, rest);
    }
    NotAnImageEndpoint(req, w, path);
  }

  store::ContentStore& store;
  EngineOptions opt;
  LocalImages images;
};

Api::Api(store::ContentStore& store, EngineOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

Api::~Api() = default;

void Api::Handle(Request& req, ResponseWriter& w) {
  impl_->Route(req, w);
}

}  // namespace hoist::dockerapi
