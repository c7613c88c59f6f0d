#include "builder/engine/engine.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <variant>

#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/plan.h"
#include "builder/dockerfile/report.h"
#include "builder/dockerfile/text.h"
#include "builder/engine/copy.h"
#include "builder/engine/image_config.h"
#include "builder/engine/image_store.h"
#include "builder/engine/paths.h"
#include "builder/engine/tree_util.h"
#include "builder/layer/extract.h"
#include "builder/layer/root_dir.h"
#include "builder/sandbox/snapshot.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/progress.h"
#include "common/clock.h"
#include "common/media_types.h"
#include "common/reference.h"

namespace hoist::engine {
namespace {

using namespace dockerfile;
using nlohmann::ordered_json;

constexpr int kMaxPlanRounds = 4;

std::string UniqueName() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000007);
}

// The instruction as the cache sees it: every expanded field and flag,
// without its position (moving a line does not invalidate anything).
std::string KeyText(const Command& c) {
  nlohmann::json j = CommandToJson(c);
  j.erase("line");
  j.erase("source");
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool IsLayerCommand(const Command& c) {
  return std::holds_alternative<CopyCommand>(c) || std::holds_alternative<AddCommand>(c) ||
         std::holds_alternative<RunCommand>(c) || std::holds_alternative<WorkdirCommand>(c);
}

// "uid[:gid]" with numbers only: resolvable without the stage's files.
bool NumericOwner(const std::string& spec) {
  if (spec.empty()) return true;
  size_t colon = spec.find(':');
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  std::string_view u = std::string_view(spec).substr(0, colon);
  if (!digits(u)) return false;
  return colon == std::string::npos || digits(std::string_view(spec).substr(colon + 1));
}

Result<std::optional<ModeChange>> ParseChmod(const std::string& s) {
  if (s.empty()) return std::optional<ModeChange>();
  Result<ModeChange> m = ModeChange::Parse(s);
  if (!m.ok()) return m.status();
  return std::optional<ModeChange>(std::move(*m));
}

// BuildKit's layers in an OCI manifest: Docker's gzip layer type becomes
// the OCI one (same bytes).
std::string OciLayerType(const std::string& t) {
  if (t == media::kDockerLayerGzip) return std::string(media::kOciLayerGzip);
  return t;
}

struct StageState {
  ImageConfig config;
  std::vector<LayerRef> layers;
  Digest key = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  std::string created;
  Platform platform;
  std::optional<transfer::RemoteLocation> base_location;
  RunArgs run_args;  // the ARG values RUN sees
};

// A stage's private, writable copy of its root filesystem for RUN: made on
// the first RUN that misses the cache, brought up to date with the layers
// other steps add, written into by RUN steps directly.
//
// With the overlay snapshotter the live root is a stack instead: the
// stage's extracted root filesystem (the rootfs cache, never written) under
// the upper directories of the RUN steps since, each step mounting a new
// overlay on top.
struct LiveRoot {
  std::string dir;                  // walk: the copy; "" until needed
  size_t layers = 0;                // how many of the stage's layers it (or the stack) holds
  std::string base;                 // overlay: the extracted root ("" = none yet)
  std::vector<std::string> uppers;  // overlay: earlier steps' upper directories, oldest first
};

// What a RUN's --mount flags set up for one execution.
struct RunMounts {
  std::vector<sandbox::Mount> mounts;
  std::vector<std::string> env;        // secret env=, SSH_AUTH_SOCK
  std::vector<store::UniqueFd> locks;  // cache mounts with sharing=locked/private
  std::vector<std::string> temp;       // private directories, removed after the step
  RunMounts() = default;
  RunMounts(const RunMounts&) = delete;
  RunMounts& operator=(const RunMounts&) = delete;
  ~RunMounts() {
    for (const std::string& d : temp) RemoveTree(d);
  }
};

// RUN --mount target: relative targets are below the working directory.
std::string MountTarget(const std::string& target, const std::string& workdir) {
  if (!target.empty() && target[0] == '/') return CleanPath(target);
  return CleanPath((workdir.empty() ? std::string("/") : workdir) + "/" + target);
}

// A cache or secret mount's mode= (else `default_mode`) and, when root,
// its uid=/gid= as the step's ids map them to the host's.
Status SetMountOwner(const std::string& path, const dockerfile::Mount& m, uint32_t default_mode,
                     const sandbox::IdMap& ids) {
  ::chmod(path.c_str(), static_cast<mode_t>(m.mode.value_or(default_mode)));
  if (::geteuid() != 0) return Status::Ok();
  uint32_t uid = ids.HostUid(static_cast<uint32_t>(m.uid.value_or(0))).value_or(0);
  uint32_t gid = ids.HostGid(static_cast<uint32_t>(m.gid.value_or(0))).value_or(0);
  if (::chown(path.c_str(), uid, gid) != 0) return ErrnoStatus("chown", path);
  return Status::Ok();
}

// A mount's source below a tree: cleaned, never leaving it.
Result<std::string> MountSource(const std::string& source) {
  std::string clean = CleanPath("/" + source);
  if (clean == "/") return std::string();
  return clean.substr(1);
}

}  // namespace

struct Builder::Impl {
  Impl(store::ContentStore& s, transfer::Places& p, BuildProgress& pr)
      : store(s), places(p), progress(pr), cache(s), rootfs(s) {}

  store::ContentStore& store;
  transfer::Places& places;
  BuildProgress& progress;
  BuildCache cache;
  RootfsCache rootfs;

  // One build's state.
  const BuildOptions* opt = nullptr;
  std::unique_ptr<BaseImageResolver> resolver;
  Dockerfile df;
  BuildPlan plan;
  std::map<size_t, size_t> image_triggers;  // stage -> ONBUILD triggers of its base image
  std::mutex mu;                            // guards stages, context, the work dir
  std::map<size_t, StageState> stages;
  std::unique_ptr<SourceTree> context;
  std::string work_dir;
  std::atomic<bool> cancel{false};
  std::unique_ptr<sandbox::Sandbox> sandbox;  // made by the first RUN that executes
  std::vector<std::string> live_roots;        // removed when the build ends
  std::atomic<bool> overlay_failed{false};    // the kernel refused an overlay: walk from then on
  std::atomic<int> steps_run{0}, steps_cached{0};
  std::string sde_created;  // FormatUtcSeconds(SOURCE_DATE_EPOCH) or ""

  Status At(int line, const std::string& msg) const {
    const Source* src = opt->dockerfile.get();
    if (line <= 0) return Status(Code::kInvalidArgument, src->name() + ": " + msg);
    return ErrorAt(src, src->LineStart(line), msg);
  }
  // A failure of instruction `c`: its position, keyword and the reason.
  Status Fail(const Command& c, const Status& st) const {
    const CommandBase& b = Base(c);
    std::string word = text::AsciiToUpper(b.name);
    Status pos = At(b.line(), word + ": " + st.message());
    return Status(st.code() == Code::kOk ? Code::kInternal : st.code(), pos.message(),
                  pos.detail());
  }

  // ---- planning ----

  Result<Command> TriggerCommand(const Stage& st, const std::string& expression) {
    int line = st.node ? st.node->start_line : 0;
    auto fail = [&](const std::string& why) {
      return At(line,
                "ONBUILD trigger " + expression + " of base image " + st.base_name + ": " + why);
    };
    Result<std::optional<Command>> cmd = ParseTrigger(df, expression, line, 1);
    if (!cmd.ok()) return fail(cmd.status().message());
    if (!*cmd) return fail("FROM is not allowed as an ONBUILD trigger");
    return std::move(**cmd);
  }

  struct ImageNeed {
    std::string ref;
    Platform platform;
    int line;
  };

  std::vector<ImageNeed> NeededImages() const {
    std::vector<ImageNeed> out;
    for (const PlannedStage& ps : plan.stages) {
      if (!ps.needed) continue;
      int from_line = df.stages[ps.index].node ? df.stages[ps.index].node->start_line : 0;
      if (ps.base_kind == BaseKind::kImage) out.push_back({ps.base, ps.platform, from_line});
      for (const StageDep& d : ps.deps) {
        if (!d.stage && d.via == StageDep::Via::kCopyFrom) {
          out.push_back({d.image, ps.platform, d.line});
        }
      }
    }
    return out;
  }

  // Resolves (pulls) every image in `needs` in parallel.
  Status ResolveAll(const std::vector<ImageNeed>& needs) {
    std::vector<std::thread> threads;
    std::vector<Status> results(needs.size());
    std::set<std::string> started;
    for (size_t i = 0; i < needs.size(); ++i) {
      const ImageNeed& n = needs[i];
      if (resolver->Resolved(n.ref, n.platform)) continue;
      if (!started.insert(n.ref + " " + n.platform.Format()).second) continue;
      threads.emplace_back([this, i, &needs, &results] {
        const ImageNeed& need = needs[i];
        std::string name = "[internal] load metadata for " + need.ref;
        Result<Reference> r = Reference::Parse(need.ref);
        if (r.ok()) name = "[internal] load metadata for " + r->String();
        int v = progress.Start(name);
        Result<std::shared_ptr<const BaseImage>> img = resolver->Resolve(need.ref, need.platform);
        if (!img.ok()) {
          progress.Error(v, img.status().message());
          results[i] = img.status();
          return;
        }
        progress.Done(v);
      });
    }
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < needs.size(); ++i) {
      if (results[i].ok()) continue;
      // A plain word ("biuld") is more likely a misspelt stage than an image.
      Result<Reference> r = Reference::Parse(needs[i].ref);
      std::string word = r.ok() ? r->path().substr(r->path().find('/') + 1) : "";
      bool stage_like = r.ok() && r->domain() == kDockerHubDomain &&
                        r->path() == "library/" + word && r->tag() == "latest" && !r->digest();
      std::string what =
          stage_like ? "no stage or image named \"" + word + "\": " : "failed to resolve ";
      return At(needs[i].line, what + results[i].message());
    }
    return Status::Ok();
  }

  Status Plan() {
    Result<Dockerfile> parsed = ParseDockerfile(opt->dockerfile);
    if (!parsed.ok()) return parsed.status();
    if (parsed->stages.empty()) {
      return At(1, "dockerfile contains no stages to build");
    }
    const Dockerfile original = std::move(*parsed);
    df = original;
    PlanOptions po;
    po.build_args = opt->build_args;
    po.target = opt->target;
    po.target_platform = opt->platform;
    po.dialect = opt->dialect;
    Result<BuildPlan> p = PlanBuild(df, po);
    if (!p.ok()) return p.status();
    plan = std::move(*p);
    po.base_image_env = [this](
                            const std::string& ref,
                            const Platform& platform) -> std::optional<std::vector<std::string>> {
      std::shared_ptr<const BaseImage> img = resolver->Resolved(ref, platform);
      if (!img) return std::nullopt;
      return img->config.config.env;
    };
    for (int round = 0; round < kMaxPlanRounds; ++round) {
      std::vector<ImageNeed> needs = NeededImages();
      HOIST_RETURN_IF_ERROR(ResolveAll(needs));
      // ONBUILD triggers of base images run first in the stages on them.
      df = original;
      image_triggers.clear();
      for (const PlannedStage& ps : plan.stages) {
        if (!ps.needed || ps.base_kind != BaseKind::kImage) continue;
        std::shared_ptr<const BaseImage> img = resolver->Resolved(ps.base, ps.platform);
        if (!img || img->config.config.on_build.empty()) continue;
        std::vector<Command> triggers;
        for (const std::string& t : img->config.config.on_build) {
          Result<Command> c = TriggerCommand(df.stages[ps.index], t);
          if (!c.ok()) return c.status();
          triggers.push_back(std::move(*c));
        }
        std::vector<Command>& cmds = df.stages[ps.index].commands;
        cmds.insert(cmds.begin(), triggers.begin(), triggers.end());
        image_triggers[ps.index] = triggers.size();
      }
      p = PlanBuild(df, po);
      if (!p.ok()) return p.status();
      plan = std::move(*p);
      bool complete = true;
      for (const ImageNeed& n : NeededImages()) {
        if (!resolver->Resolved(n.ref, n.platform)) complete = false;
      }
      if (complete) return Status::Ok();
    }
    return At(0, "ONBUILD triggers keep adding base images; giving up");
  }

  // ---- stages ----

  Digest LayerOptionsKey(CacheKeyBuilder& k) const {
    const layer::CompressOptions& c = opt->compress;
    k.Add("compression", std::string(layer::CompressionName(c.compression)))
        .Add("level", std::to_string(c.level))
        .Add("gzip-block", std::to_string(c.gzip_block_size))
        .Add("epoch", opt->source_date_epoch ? std::to_string(*opt->source_date_epoch) : "-");
    return k.Finish();
  }

  layer::LayerOptions LayerOpts() const {
    layer::LayerOptions lo;
    lo.compress = opt->compress;
    lo.source_date_epoch = opt->source_date_epoch;
    return lo;
  }

  Result<SourceTree*> Context() {
    std::lock_guard<std::mutex> lock(mu);
    if (!context) {
      int v = progress.Start("[internal] load build context");
      Result<std::unique_ptr<SourceTree>> t =
          OpenDirectoryTree("context", opt->context_dir, opt->ignore, opt->context_index);
      if (!t.ok()) {
        progress.Error(v, t.status().message());
        return t.status();
      }
      context = std::move(*t);
      progress.Done(v);
    }
    return context.get();
  }

  Result<std::string> EmptyDir() {
    std::lock_guard<std::mutex> lock(mu);
    std::string dir = work_dir + "/empty";
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", dir);
    return dir;
  }

  // The step label BuildKit shows: "[name i/n] INSTRUCTION".
  struct Counter {
    std::string name;  // "" in single-stage files
    int total = 0;
    int index = 0;
    std::string Prefix() {
      if (total == 0) return "";
      ++index;
      int width = 1 + static_cast<int>(std::log10(static_cast<double>(total)));
      std::string n = std::to_string(index);
      if (static_cast<int>(n.size()) < width) n.insert(0, width - n.size(), ' ');
      return "[" + (name.empty() ? "" : name + " ") + n + "/" + std::to_string(total) + "] ";
    }
  };

  // Runs a layer step: cache lookup under `key`, else `execute`.
  // Returns whether a layer was added.
  Result<bool> LayerStep(StageState& st, const Command& c, const std::string& label,
                         const Digest& key,
                         const std::function<Result<std::optional<LayerRef>>(int)>& execute) {
    int v = progress.Start(label);
    if (!opt->no_cache) {
      if (std::optional<CacheRecord> rec = cache.Lookup(key)) {
        if (rec->layer) st.layers.push_back(*rec->layer);
        st.key = key;
        progress.Cached(v);
        ++steps_cached;
        return rec->layer.has_value();
      }
    }
    Result<std::optional<LayerRef>> layer = execute(v);
    if (!layer.ok()) {
      Status s = Fail(c, layer.status());
      progress.Error(v, layer.status().message());
      return s;
    }
    CacheRecord rec;
    rec.key = key;
    rec.description = FormatCommand(c);
    rec.layer = *layer;
    if (*layer) rec.blobs.push_back((*layer)->digest);
    Status put = cache.Put(rec);
    if (!put.ok()) progress.Log(v, "warning: cache record not written: " + put.message());
    if (*layer) st.layers.push_back(**layer);
    st.key = key;
    progress.Done(v);
    ++steps_run;
    return layer->has_value();
  }

  Result<std::optional<LayerRef>> WriteLayer(std::vector<layer::Entry> entries) {
    Result<layer::LayerDescriptor> d =
        layer::WriteLayerToStore(std::move(entries), LayerOpts(), store);
    if (!d.ok()) return d.status();
    return std::optional<LayerRef>(
        LayerRef{d->media_type, d->digest, static_cast<int64_t>(d->size), d->diff_id});
  }

  // The source tree of COPY --from, and its identity for the cache key.
  struct FromSource {
    std::string identity;
    std::function<Result<std::unique_ptr<SourceTree>>()> open;
  };

  Result<FromSource> ResolveFrom(const PlannedStage& ps, const std::string& from) {
    std::optional<size_t> stage;
    if (!from.empty() &&
        std::all_of(from.begin(), from.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      stage = static_cast<size_t>(std::stoul(from));
    } else {
      std::string lower = text::ToLower(from);
      for (const PlannedStage& s : plan.stages) {
        if (!s.name.empty() && s.name == lower) stage = s.index;
      }
    }
    if (stage) {
      StageState src;
      {
        std::lock_guard<std::mutex> lock(mu);
        auto it = stages.find(*stage);
        if (it == stages.end()) {
          return Status(Code::kInternal, "stage " + from + " was not built before this one");
        }
        src = it->second;
      }
      return FromSource{"stage:" + src.key.str(),
                        TreeOpener("stage " + plan.stages[*stage].display_name, src.layers)};
    }
    std::shared_ptr<const BaseImage> img = resolver->Resolved(from, ps.platform);
    if (!img) return Status(Code::kInternal, "image " + from + " was not resolved");
    return FromSource{"image:" + img->manifest.digest.str(),
                      TreeOpener("image " + img->ref, img->layers)};
  }

  // Opens the root filesystem of `layers` (materialised on first use) as a
  // source tree named `name`.
  std::function<Result<std::unique_ptr<SourceTree>>()> TreeOpener(std::string name,
                                                                  std::vector<LayerRef> layers) {
    return [this, name, layers]() -> Result<std::unique_ptr<SourceTree>> {
      Result<std::string> dir = rootfs.Materialize(layers);
      if (!dir.ok()) return dir.status();
      std::string d = *dir;
      if (d.empty()) {
        Result<std::string> e = EmptyDir();
        if (!e.ok()) return e.status();
        return OpenStageTree(name, *e);
      }
      // The chain's digests beside it (paths::RootfsDigestsSuffix), kept by
      // the COPY that hashed them (SaveIndex) and evicted with the chain.
      return OpenStageTree(name, d, d + paths::kRootfsDigestsSuffix);
    };
  }

  Result<bool> CopyStep(const PlannedStage& ps, StageState& st, const Command& c,
                        const std::string& label) {
    const auto* cp = std::get_if<CopyCommand>(&c);
    const auto* add = std::get_if<AddCommand>(&c);
    const SourcesAndDest& files = cp ? cp->files : add->files;
    const std::string& chown = cp ? cp->chown : add->chown;
    CopyRequest req;
    req.is_add = add != nullptr;
    req.sources = files.source_paths;
    for (const SourceContent& sc : files.source_contents)
      req.inline_sources.push_back({sc.path, sc.data});
    req.dest = files.dest;
    req.workdir = st.config.config.working_dir.empty() ? "/" : st.config.config.working_dir;
    Result<std::optional<ModeChange>> chmod = ParseChmod(cp ? cp->chmod : add->chmod);
    if (!chmod.ok()) return Fail(c, chmod.status());
    req.chmod = *chmod;
    req.excludes = cp ? cp->excludes : add->excludes;
    req.parents = cp && cp->parents;
    req.link = cp ? cp->link : add->link;
    if (add) {
      req.unpack = add->unpack.value_or(true);
      req.keep_git_dir = add->keep_git_dir.value_or(false);
      if (!add->checksum.empty()) {
        Result<Digest> d = Digest::Parse(add->checksum);
        if (!d.ok())
          return Fail(c, Status(Code::kInvalidArgument, "invalid --checksum " + add->checksum +
                                                            ": " + d.status().message()));
        req.checksum = *d;
      }
    }
    req.work_dir = work_dir;
    req.source_date_epoch = opt->source_date_epoch;

    // The sources: the context, a stage or an image.
    std::string sources_key;
    std::function<Result<std::unique_ptr<SourceTree>>()> open_from;
    SourceTree* tree = nullptr;
    if (cp && !cp->from.empty()) {
      Result<FromSource> from = ResolveFrom(ps, cp->from);
      if (!from.ok()) return Fail(c, from.status());
      sources_key = from->identity;
      open_from = from->open;
    } else {
      Result<SourceTree*> ctx = Context();
      if (!ctx.ok()) return Fail(c, ctx.status());
      tree = *ctx;
      Result<Digest> k = CopySourcesKey(*tree, req);
      if (!k.ok()) return Fail(c, k.status());
      sources_key = "context:" + k->str();
    }
    bool names = !NumericOwner(chown);
    CacheKeyBuilder kb("copy");
    // --link layers do not depend on what is below them (unless a user
    // name must be looked up there).
    if (!req.link || names) kb.Add("parent", st.key);
    kb.Add("platform", ps.platform.Format())
        .Add("instruction", KeyText(c))
        .Add("workdir", req.workdir)
        .Add("sources", sources_key);
    Digest key = LayerOptionsKey(kb);

    return LayerStep(st, c, label, key, [&](int) -> Result<std::optional<LayerRef>> {
      std::string stage_root;
      if ((!req.link || names) && !st.layers.empty()) {
        Result<std::string> dir = rootfs.Materialize(st.layers);
        if (!dir.ok()) return dir.status();
        stage_root = *dir;
      }
      if (!chown.empty()) {
        Result<Owner> o = ResolveChown(chown, names ? stage_root : std::string());
        if (!o.ok()) return o.status();
        req.chown = *o;
      }
      req.stage_root = req.link ? std::string() : stage_root;
      std::unique_ptr<SourceTree> owned;
      if (open_from) {
        Result<std::unique_ptr<SourceTree>> t = open_from();
        if (!t.ok()) return t.status();
        owned = std::move(*t);
        tree = owned.get();
      }
      Result<CopyResult> planned = PlanCopy(*tree, req);
      if (!planned.ok()) return planned.status();
      // A stage's digests, for the next COPY --from it (a cache: a failed
      // save costs a re-hash, never the build).
      if (owned) (void)SaveIndex(*owned);
      return WriteLayerByContent(planned->content_key, std::move(planned->entries));
    });
  }

  // Writes a layer unless one with the same content (CopyResult::content_key:
  // paths, metadata and file digests) and layer options was written before:
  // a step that reruns because something before it changed, but copies the
  // same files, costs no tar and no compression.
  Result<std::optional<LayerRef>> WriteLayerByContent(const Digest& content_key,
                                                      std::vector<layer::Entry> entries) {
    CacheKeyBuilder kb("layer-content");
    kb.Add("content", content_key);
    Digest key = LayerOptionsKey(kb);
    if (!opt->no_cache) {
      std::optional<CacheRecord> rec = cache.Lookup(key);
      if (rec && rec->layer) return rec->layer;
    }
    Result<std::optional<LayerRef>> layer = WriteLayer(std::move(entries));
    if (!layer.ok() || !*layer) return layer;
    CacheRecord rec;
    rec.key = key;
    rec.description = "layer content " + content_key.str();
    rec.layer = *layer;
    rec.blobs.push_back((*layer)->digest);
    (void)cache.Put(rec);  // best effort: a lost record costs a recompression later
    return layer;
  }

  // WORKDIR's layer: BuildKit's Mkdir(wd, 0755, WithParents, WithUser).
  // The path resolves inside the root as BuildKit's does: symbolic links
  // are followed, a dangling one too (its target is what gets created),
  // and ".." stops at the root.
  Result<std::optional<LayerRef>> MakeWorkdir(const StageState& st, const std::string& wd) {
    std::string root;
    if (!st.layers.empty()) {
      Result<std::string> dir = rootfs.Materialize(st.layers);
      if (!dir.ok()) return dir.status();
      root = *dir;
    }
    Owner owner;
    if (!st.config.config.user.empty()) {
      // A user the image does not know: BuildKit's mkdir falls back to 0:0.
      Result<Owner> o = ResolveChown(st.config.config.user, root);
      if (o.ok()) owner = *o;
    }
    auto split = [](const std::string& path) {
      std::vector<std::string> v;
      std::string cur;
      for (char ch : CleanPath(path)) {
        if (ch == '/') {
          if (!cur.empty()) v.push_back(cur);
          cur.clear();
        } else {
          cur += ch;
        }
      }
      if (!cur.empty()) v.push_back(cur);
      return v;
    };
    std::vector<std::string> parts = split(wd);
    // The longest existing prefix, resolved inside the root (symlinks).
    std::string real;  // in-image path of the existing prefix, no leading "/"
    size_t have = 0;
    if (!root.empty()) {
      Result<std::unique_ptr<layer::RootDir>> rd = layer::RootDir::Open(root);
      if (!rd.ok()) return rd.status();
      std::string canon_root = std::filesystem::weakly_canonical(root).string();
      int links = 0;
      std::string rel;
      for (; have < parts.size(); ++have) {
        std::string next = rel.empty() ? parts[have] : rel + "/" + parts[have];
        Result<store::UniqueFd> fd = (*rd)->OpenDir(next, /*follow_symlinks=*/true);
        if (!fd.ok() && fd.status().code() == Code::kNotFound) {
          // A dangling symbolic link: go on from its target.
          Result<store::UniqueFd> parent = (*rd)->OpenDir(rel, /*follow_symlinks=*/true);
          char target[4096];
          ssize_t n = parent.ok() ? ::readlinkat(parent->get(), parts[have].c_str(), target,
                                                 sizeof target - 1)
                                  : -1;
          if (n <= 0) break;
          if (++links > 40) {
            return Status(Code::kInvalidArgument,
                          "mkdir /" + next + ": too many levels of symbolic links");
          }
          std::string t(target, static_cast<size_t>(n));
          std::string rest = t[0] == '/' ? t : "/" + real + "/" + t;
          for (size_t i = have + 1; i < parts.size(); ++i) rest += "/" + parts[i];
          parts = split(rest);
          have = static_cast<size_t>(-1);  // start over on the new path
          rel.clear();
          real.clear();
          continue;
        }
        if (!fd.ok()) {
          return Status(Code::kInvalidArgument, "mkdir /" + next + ": " + fd.status().message());
        }
        rel = next;
        char buf[4096];
        std::string self = "/proc/self/fd/" + std::to_string(fd->get());
        ssize_t n = ::readlink(self.c_str(), buf, sizeof buf);
        std::string host = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
        if (host.rfind(canon_root, 0) == 0) {
          real = host.substr(canon_root.size());
          while (!real.empty() && real[0] == '/') real.erase(0, 1);
        } else {
          real = next;
        }
      }
    }
    if (have == parts.size()) return std::optional<LayerRef>();
    std::vector<layer::Entry> entries;
    std::string path = real;
    for (size_t i = have; i < parts.size(); ++i) {
      path = path.empty() ? parts[i] : path + "/" + parts[i];
      layer::Entry e = layer::Entry::Dir(path, 0755);
      e.uid = owner.uid;
      e.gid = owner.gid;
      entries.push_back(std::move(e));
    }
    return WriteLayer(std::move(entries));
  }

  // ---- RUN ----

  Result<sandbox::Sandbox*> Sandbox() {
    std::lock_guard<std::mutex> lock(mu);
    if (!sandbox) {
      std::string notice;
      Result<std::unique_ptr<sandbox::Sandbox>> sb = sandbox::MakeSandbox(opt->isolation, &notice);
      if (!sb.ok()) return sb.status();
      sandbox = std::move(*sb);
      if (!notice.empty()) progress.Message("notice", notice);
    }
    return sandbox.get();
  }

  // Brings the stage's live root up to st.layers: the layers added since
  // (COPY, cached RUNs) are applied to it; when that fails (a step made a
  // directory the caller cannot write), it is made again.
  Status UpdateLive(const StageState& st, LiveRoot& live, sandbox::Sandbox& sb,
                    const std::string& stage) {
    if (!live.dir.empty()) {
      Status s = Status::Ok();
      for (size_t i = live.layers; s.ok() && i < st.layers.size(); ++i) {
        layer::ExtractOptions eo;
        eo.expected_digest = st.layers[i].digest;
        eo.expected_diff_id = st.layers[i].diff_id;
        Result<layer::ExtractReport> r =
            layer::ApplyLayerFile(store.Path(st.layers[i].digest), live.dir, eo);
        if (!r.ok()) s = r.status();
      }
      if (s.ok()) {
        live.layers = st.layers.size();
        return s;
      }
      (void)sb.RemoveTree(live.dir);
      live.dir.clear();
    }
    Result<std::string> src = MaterializeShown(st, stage);
    if (!src.ok()) return src.status();
    std::string dir = work_dir + "/live-" + UniqueName();
    {
      std::lock_guard<std::mutex> lock(mu);
      live_roots.push_back(dir);
    }
    if (src->empty()) {
      if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus("mkdir", dir);
    } else {
      HOIST_RETURN_IF_ERROR(CopyTree(*src, dir));
    }
    live.dir = dir;
    live.layers = st.layers.size();
    return Status::Ok();
  }

  // rootfs.Materialize(st.layers), as a step of its own in the progress
  // when layers must be extracted (BuildKit shows "extracting" under FROM):
  // the extraction's time is not hidden in the RUN that needs it.
  Result<std::string> MaterializeShown(const StageState& st, const std::string& stage) {
    if (rootfs.Extracted(st.layers)) return rootfs.Materialize(st.layers);
    int v = progress.Start("[" + stage + "] extract the root filesystem (" +
                           std::to_string(st.layers.size()) + " layer(s))");
    Result<std::string> dir = rootfs.Materialize(st.layers);
    if (dir.ok()) {
      progress.Done(v);
    } else {
      progress.Error(v, dir.status().message());
    }
    return dir;
  }

  // The overlay stack for st.layers: the stack of earlier RUN steps when it
  // holds them all, else the extracted root filesystem alone. Returns the
  // lower directories, top first.
  Result<std::vector<std::string>> OverlayLowers(const StageState& st, LiveRoot& live,
                                                 const std::string& stage) {
    if (live.base.empty() || live.layers != st.layers.size() || live.uppers.size() > 64) {
      Result<std::string> base = MaterializeShown(st, stage);
      if (!base.ok()) return base.status();
      if (base->empty()) {
        Result<std::string> empty = EmptyDir();
        if (!empty.ok()) return empty.status();
        *base = *empty;
      }
      live.base = *base;
      live.uppers.clear();
      live.layers = st.layers.size();
    }
    std::vector<std::string> lowers(live.uppers.rbegin(), live.uppers.rend());
    lowers.push_back(live.base);
    return lowers;
  }

  // A snapshotter for the next RUN of the stage, begun: an overlay on the
  // stage's stack, or the walk over its live copy.
  Result<std::unique_ptr<sandbox::Snapshotter>> BeginSnapshot(const StageState& st, LiveRoot& live,
                                                              sandbox::Sandbox& sb, int v,
                                                              const std::string& stage) {
    using Kind = BuildOptions::Snapshotter;
    if (opt->snapshotter != Kind::kWalk && !overlay_failed.load()) {
      Result<std::vector<std::string>> lowers = OverlayLowers(st, live, stage);
      if (!lowers.ok()) return lowers.status();
      std::string dir = work_dir + "/overlay-" + UniqueName();
      std::unique_ptr<sandbox::Snapshotter> snap =
          sandbox::NewOverlaySnapshotter(*lowers, dir, sb.ids());
      Status begun = snap->Begin();
      if (begun.ok()) return snap;
      RemoveTree(dir);
      if (opt->snapshotter == Kind::kOverlay) return begun;
      if (!overlay_failed.exchange(true)) {
        progress.Log(v, "note: " + begun.message() + "; RUN changes are found by a walk");
      }
    }
    HOIST_RETURN_IF_ERROR(UpdateLive(st, live, sb, stage));
    std::unique_ptr<sandbox::Snapshotter> snap = sandbox::NewWalkSnapshotter(live.dir, sb.ids());
    HOIST_RETURN_IF_ERROR(snap->Begin());
    return snap;
  }

  // The part of a RUN's cache key that its bind mounts' sources decide.
  Result<std::string> MountSourcesKey(const PlannedStage& ps, const RunCommand& rc) {
    std::string key;
    for (const dockerfile::Mount& m : rc.mounts) {
      if (m.type != "bind") continue;
      Result<std::string> src = MountSource(m.source);
      if (!src.ok()) return src.status();
      if (m.from.empty()) {
        Result<SourceTree*> ctx = Context();
        if (!ctx.ok()) return ctx.status();
        CopyRequest req;
        req.sources = {src->empty() ? "." : *src};
        req.dest = "/";
        req.workdir = "/";
        Result<Digest> d = CopySourcesKey(**ctx, req);
        if (!d.ok()) return d.status();
        key += "bind context " + d->str() + "\n";
      } else {
        Result<FromSource> from = ResolveFrom(ps, m.from);
        if (!from.ok()) return from.status();
        key += "bind " + from->identity + " " + *src + "\n";
      }
    }
    return key;
  }

  // The directory of a cache mount (persistent under the store root, one
  // per id), locked as its sharing mode says.
  Status CacheMount(const PlannedStage& ps, const dockerfile::Mount& m, const std::string& target,
                    const sandbox::IdMap& ids, RunMounts& out) {
    std::string id = m.cache_id.empty() ? target : m.cache_id;
    std::string base = paths::RunCacheDir(store.root());
    HOIST_RETURN_IF_ERROR(store::MakeDirs(base));
    std::string dir = base + "/" + DigestOf(id).hex();
    store::UniqueFd lock(::open((dir + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock.valid()) return ErrnoStatus("open", dir + ".lock");
    if (m.sharing == "locked") {
      while (::flock(lock.get(), LOCK_EX) != 0 && errno == EINTR) {
      }
    } else if (m.sharing == "private") {
      if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        // Someone uses it: this step gets a cache of its own, discarded after.
        dir = work_dir + "/cache-" + UniqueName();
        out.temp.push_back(dir);
        lock.Reset();
      }
    }
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) {
      std::string staging = dir + ".tmp-" + UniqueName();
      Status made = Status::Ok();
      if (!m.from.empty()) {
        Result<FromSource> from = ResolveFrom(ps, m.from);
        if (!from.ok()) return from.status();
        Result<std::unique_ptr<SourceTree>> tree = from->open();
        if (!tree.ok()) return tree.status();
        Result<std::string> src = MountSource(m.source);
        if (!src.ok()) return src.status();
        made = MirrorTree((*tree)->root(), *src, staging, [](const std::string&) { return false; },
                          /*copy=*/true);
      } else if (::mkdir(staging.c_str(), 0755) != 0) {
        made = ErrnoStatus("mkdir", staging);
      }
      if (made.ok()) {
        made = SetMountOwner(staging, m, 0755, ids);
      }
      if (made.ok() && ::rename(staging.c_str(), dir.c_str()) != 0 && errno != EEXIST &&
          errno != ENOTEMPTY) {
        made = ErrnoStatus("rename", staging);
      }
      RemoveTree(staging);
      HOIST_RETURN_IF_ERROR(made);
    }
    if (lock.valid()) out.locks.push_back(std::move(lock));
    sandbox::Mount mount;
    mount.source = dir;
    mount.target = target;
    out.mounts.push_back(mount);
    return Status::Ok();
  }

  // buildah's tmpfs `tmpcopyup`: the step sees the target's contents and
  // nothing it writes there reaches the layer. A private copy of the target
  // (resolved inside the root) bound over it does both under every
  // isolation, proot's included; it is removed after the step.
  Status CopyUpMount(const std::string& root, const std::string& target, RunMounts& out) {
    Result<InRoot> at = ResolveInRoot(root, target, true);
    if (!at.ok()) return at.status();
    std::string dir = work_dir + "/tmpcopyup-" + UniqueName();
    out.temp.push_back(dir);
    if (at->exists && S_ISDIR(at->st.st_mode)) {
      HOIST_RETURN_IF_ERROR(MirrorTree(
          root, at->rel, dir, [](const std::string&) { return false; }, true));
    } else if (::mkdir(dir.c_str(), 0755) != 0 || ::chmod(dir.c_str(), 01777) != 0) {
      return ErrnoStatus("mkdir", dir);
    }
    sandbox::Mount mount;
    mount.source = dir;
    mount.target = target;
    out.mounts.push_back(mount);
    return Status::Ok();
  }

  // Sets up a RUN's --mount flags (Dockerfile reference, "RUN --mount")
  // for a step that runs in `root`.
  Status PrepareMounts(const PlannedStage& ps, const StageState& st, const RunCommand& rc,
                       const sandbox::IdMap& ids, const std::string& root, RunMounts& out) {
    const std::string& wd = st.config.config.working_dir;
    int ssh_index = 0;
    for (const dockerfile::Mount& m : rc.mounts) {
      if (m.type == "bind") {
        Result<std::string> src = MountSource(m.source);
        if (!src.ok()) return src.status();
        std::string dir = work_dir + "/bind-" + UniqueName();
        out.temp.push_back(dir);
        if (m.from.empty()) {
          Result<SourceTree*> ctx = Context();
          if (!ctx.ok()) return ctx.status();
          SourceTree* tree = *ctx;
          if (tree->Excluded(*src)) {
            return Status(Code::kNotFound,
                          "bind source /" + *src + " is excluded by .dockerignore");
          }
          HOIST_RETURN_IF_ERROR(MirrorTree(
              tree->root(), *src, dir,
              [tree](const std::string& rel) { return tree->Excluded(rel); }, !m.read_only));
        } else {
          Result<FromSource> from = ResolveFrom(ps, m.from);
          if (!from.ok()) return from.status();
          Result<std::unique_ptr<SourceTree>> tree = from->open();
          if (!tree.ok()) return tree.status();
          if (m.read_only) {
            // The root filesystem cache is immutable: bind it read-only as it is.
            out.temp.pop_back();
            dir = (*tree)->root() + (src->empty() ? "" : "/" + *src);
            struct stat sst;
            if (::stat(dir.c_str(), &sst) != 0) return ErrnoStatus("bind source", "/" + *src);
          } else {
            HOIST_RETURN_IF_ERROR(MirrorTree((*tree)->root(), *src, dir,
                                             [](const std::string&) { return false; }, true));
          }
        }
        sandbox::Mount mount;
        mount.source = dir;
        mount.target = MountTarget(m.target, wd);
        mount.read_only = m.read_only;
        out.mounts.push_back(mount);
      } else if (m.type == "cache") {
        HOIST_RETURN_IF_ERROR(CacheMount(ps, m, MountTarget(m.target, wd), ids, out));
      } else if (m.type == "tmpfs" && m.tmpcopyup) {
        HOIST_RETURN_IF_ERROR(CopyUpMount(root, MountTarget(m.target, wd), out));
      } else if (m.type == "tmpfs") {
        sandbox::Mount mount;
        mount.type = sandbox::Mount::Type::kTmpfs;
        mount.target = MountTarget(m.target, wd);
        mount.tmpfs_size = static_cast<uint64_t>(m.size_limit);
        out.mounts.push_back(mount);
      } else if (m.type == "secret") {
        std::string id = m.cache_id;
        if (id.empty() && !m.target.empty()) id = m.target.substr(m.target.rfind('/') + 1);
        auto it = opt->secrets.find(id);
        if (it == opt->secrets.end()) {
          if (m.required)
            return Status(Code::kNotFound,
                          "secret " + id + " not found (pass --secret id=" + id + ",src=FILE)");
          continue;
        }
        Result<std::string> data = ReadSecret(it->second);
        if (!data.ok()) return data.status();
        if (m.env) out.env.push_back(*m.env + "=" + *data);
        if (m.env && m.target.empty()) continue;
        std::string dir = work_dir + "/secret-" + UniqueName();
        if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus("mkdir", dir);
        out.temp.push_back(dir);
        std::string file = dir + "/" + DigestOf(id).hex().substr(0, 16);
        HOIST_RETURN_IF_ERROR(transfer::WriteFileAtomic(file, *data));
        HOIST_RETURN_IF_ERROR(SetMountOwner(file, m, 0400, ids));
        sandbox::Mount mount;
        mount.source = file;
        mount.target = m.target.empty() ? "/run/secrets/" + id : MountTarget(m.target, wd);
        mount.read_only = true;
        out.mounts.push_back(mount);
      } else if (m.type == "ssh") {
        std::string id = m.cache_id.empty() ? "default" : m.cache_id;
        auto it = opt->ssh.find(id);
        if (it == opt->ssh.end()) {
          if (m.required)
            return Status(Code::kNotFound, "no SSH agent socket forwarded for id " + id +
                                               " (pass --ssh " + id + "[=SOCKET])");
          continue;
        }
        sandbox::Mount mount;
        mount.source = it->second;
        mount.target = m.target.empty() ? "/run/buildkit/ssh_agent." + std::to_string(ssh_index++)
                                        : MountTarget(m.target, wd);
        out.mounts.push_back(mount);
        out.env.push_back("SSH_AUTH_SOCK=" + mount.target);
      } else {
        return Status(Code::kInvalidArgument, "unknown mount type " + m.type);
      }
    }
    return Status::Ok();
  }

  // RUN (Dockerfile reference, "RUN"). Returns whether a layer was added.
  Result<bool> RunStep(const PlannedStage& ps, StageState& st, LiveRoot& live, const Command& c,
                       const std::string& label) {
    const RunCommand& rc = std::get<RunCommand>(c);
    Result<RunArgv> argv = BuildRunArgv(rc.cmdline, st.config.config.shell);
    if (!argv.ok()) return Fail(c, argv.status());
    if (rc.security == "insecure") {
      if (opt->entitlements.count("security.insecure") == 0) {
        return Fail(c, Status(Code::kDenied,
                              "security.insecure is not allowed: RUN --security=insecure needs "
                              "the security.insecure entitlement (--allow security.insecure)"));
      }
      return Fail(c, Status(Code::kUnsupported,
                            "RUN --security=insecure: hoist runs no privileged steps, even with "
                            "the security.insecure entitlement"));
    }
    if (!rc.devices.empty()) {
      return Fail(c, Status(Code::kUnsupported, "--device is not supported"));
    }
    if (rc.network != "default" && rc.network != "none" && rc.network != "host") {
      return Fail(c, Status(Code::kInvalidArgument, "unknown --network " + rc.network));
    }
    if (rc.network == "host" && opt->entitlements.count("network.host") == 0) {
      return Fail(c, Status(Code::kDenied,
                            "network.host is not allowed: RUN --network=host needs the "
                            "network.host entitlement (hoist build --allow network.host)"));
    }
    std::vector<std::string> env = st.run_args.Environment(st.config.config.env, {});
    Result<std::string> mounts_key = MountSourcesKey(ps, rc);
    if (!mounts_key.ok()) return Fail(c, mounts_key.status());
    std::string wd = st.config.config.working_dir.empty() ? "/" : st.config.config.working_dir;
    std::string argv_text, env_text;
    for (const std::string& a : argv->argv) argv_text += a + '\0';
    for (const std::string& e : env) env_text += e + '\0';
    CacheKeyBuilder kb("run");
    kb.Add("parent", st.key)
        .Add("platform", ps.platform.Format())
        .Add("instruction", KeyText(c))
        .Add("argv", argv_text)
        .Add("env", env_text)
        .Add("user", st.config.config.user)
        .Add("workdir", wd)
        .Add("mounts", *mounts_key);
    if (argv->script) kb.Add("script", argv->script->name + "\n" + argv->script->data);
    Digest key = LayerOptionsKey(kb);

    Result<bool> added =
        LayerStep(st, c, label, key, [&](int v) -> Result<std::optional<LayerRef>> {
          Result<sandbox::Sandbox*> sb = Sandbox();
          if (!sb.ok()) return sb.status();
          if (rc.network == "none" && (*sb)->isolation() == sandbox::Isolation::kProot) {
            return Status(Code::kUnsupported,
                          "--network=none needs a network namespace, which proot cannot make (use "
                          "--isolation userns or root)");
          }
          Result<std::unique_ptr<sandbox::Snapshotter>> begun =
              BeginSnapshot(st, live, **sb, v, ps.display_name);
          if (!begun.ok()) return begun.status();
          std::unique_ptr<sandbox::Snapshotter> snap = std::move(*begun);
          const bool overlay = snap->Name() == "overlay";
          const std::string root = snap->root();
          Result<ExecUser> user = ResolveExecUser(st.config.config.user, root);
          if (!user.ok()) return user.status();
          RunMounts mounts;
          HOIST_RETURN_IF_ERROR(PrepareMounts(ps, st, rc, (*sb)->ids(), root, mounts));
          if (argv->script) {
            std::string dir = work_dir + "/script-" + UniqueName();
            if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoStatus("mkdir", dir);
            mounts.temp.push_back(dir);
            HOIST_RETURN_IF_ERROR(
                transfer::WriteFileAtomic(dir + "/" + argv->script->name, argv->script->data));
            ::chmod((dir + "/" + argv->script->name).c_str(), 0755);
            sandbox::Mount mount;
            mount.source = dir;
            mount.target = kScriptDir;
            mount.read_only = true;
            mounts.mounts.push_back(mount);
          }
          // The working directory is made when missing, as runc does, in the layer.
          if (wd != "/") {
            std::error_code ec;
            std::filesystem::create_directories(root + wd, ec);
          }
          sandbox::RunSpec spec;
          spec.rootfs = root;
          spec.argv = argv->argv;
          spec.env = st.run_args.Environment(st.config.config.env, plan.proxy_env);
          for (const std::string& e : mounts.env) spec.env.push_back(e);
          bool has_home = false;
          for (const std::string& e : spec.env) has_home = has_home || e.rfind("HOME=", 0) == 0;
          if (!has_home) spec.env.push_back("HOME=" + user->home);
          spec.cwd = wd;
          spec.uid = user->uid;
          spec.gid = user->gid;
          // The primary group is a supplementary one too, as containerd sets it.
          spec.groups = {user->gid};
          for (uint32_t g : user->groups) {
            if (g != user->gid) spec.groups.push_back(g);
          }
          spec.network = rc.network == "none" ? sandbox::RunSpec::Network::kNone
                                              : sandbox::RunSpec::Network::kHost;
          spec.mounts = mounts.mounts;
          spec.timeout = opt->run_timeout;
          spec.cancel = &cancel;
          spec.on_output = [this, v](std::string_view line) { progress.Log(v, std::string(line)); };
          // The live root changes now: until the layer is written it is not
          // what live.layers says.
          if (!overlay) live.layers = static_cast<size_t>(-1);
          Result<sandbox::RunResult> run = (*sb)->Run(spec);
          if (!run.ok()) return run.status();
          if (!run->ok()) {
            std::string why =
                run->timed_out ? "timed out after " + GoDuration(opt->run_timeout.count() * 1000000)
                : run->cancelled ? "cancelled"
                : run->signal    ? "killed by signal " + std::to_string(run->signal)
                                 : "exit code: " + std::to_string(run->exit_code);
            std::string cmd;
            for (const std::string& a : argv->argv) cmd += (cmd.empty() ? "" : " ") + a;
            std::string tail;
            for (const std::string& line : dockerfile::text::Split(run->tail, '\n')) {
              if (!line.empty()) tail += "\n  > " + line;
            }
            return Status(
                Code::kInvalidArgument,
                "process " + GoQuote(cmd) + " did not complete successfully: " + why + tail);
          }
          const sandbox::OwnerReport& owners = run->owners;
          if (owners.unwatched) {
            progress.Log(
                v, "warning: " + std::string((*sb)->Name()) +
                       " cannot record ownership changes here: any chown of this step is lost "
                       "(files stay root's)");
          } else if (owners.lost > 0) {
            std::string paths;
            for (const std::string& p : owners.lost_paths) paths += " " + p;
            progress.Log(v, "warning: " + std::to_string(owners.lost) +
                                " ownership change(s) could not be recorded and are lost:" + paths);
          }
          Result<std::vector<layer::Entry>> entries = snap->End();
          if (!entries.ok()) return entries.status();
          if (entries->empty()) {
            if (!overlay) live.layers = st.layers.size();
            return std::optional<LayerRef>();
          }
          Result<std::optional<LayerRef>> layer = WriteLayer(std::move(*entries));
          if (layer.ok()) {
            // Overlay: the upper directory holds this step's change, the next step's top lower.
            if (overlay && *layer)
              live.uppers.push_back(std::filesystem::path(root).parent_path().string() + "/upper");
            live.layers = st.layers.size() + (*layer ? 1 : 0);
          }
          return layer;
        });
    if (!added.ok()) return added.status();
    AddHistory(&st.config,
               "RUN " + st.run_args.HistoryText(argv->argv, st.config.config.env) + " # buildkit",
               !*added, st.created);
    return added;
  }

  Status RunStage(size_t i) {
    const PlannedStage& ps = plan.stages[i];
    const Stage& stage = df.stages[i];
    StageState st;
    st.platform = ps.platform;
    Counter counter;
    counter.name = df.stages.size() > 1 ? ps.display_name : "";
    counter.total = ps.base_kind == BaseKind::kImage ? 1 : 0;
    for (const Command& c : ps.commands) counter.total += IsLayerCommand(c) ? 1 : 0;
    size_t triggers = 0;
    switch (ps.base_kind) {
      case BaseKind::kScratch:
        st.config = ImageConfig::Scratch(ps.platform);
        st.key = CacheKeyBuilder("scratch").Add("platform", ps.platform.Format()).Finish();
        st.created = FormatUtcSeconds(0);
        break;
      case BaseKind::kImage: {
        std::shared_ptr<const BaseImage> img = resolver->Resolved(ps.base, ps.platform);
        if (!img) return At(stage.node->start_line, "base image " + ps.base + " was not resolved");
        st.config = img->config;
        st.layers = img->layers;
        st.key = CacheKeyBuilder("image").Add("manifest", img->manifest.digest).Finish();
        st.created = img->config.created.empty() ? FormatUtcSeconds(0) : img->config.created;
        st.base_location = img->location;
        auto it = image_triggers.find(i);
        triggers = it == image_triggers.end() ? 0 : it->second;
        int v = progress.Start(counter.Prefix() + "FROM " + img->ref + "@" +
                               img->manifest.digest.str());
        if (img->blobs_fetched > 0) {
          char secs[32];
          std::snprintf(secs, sizeof secs, "%.2f", img->pull_seconds);
          progress.Log(v, "pulled " + std::to_string(img->blobs_fetched) + " blob(s), " +
                              transfer::HumanBytes(img->bytes_fetched) + ", in " + secs + " s");
          progress.Done(v);
        } else {
          progress.Cached(v);
        }
        break;
      }
      case BaseKind::kStage: {
        std::lock_guard<std::mutex> lock(mu);
        st = stages.at(*ps.base_stage);
        st.platform = ps.platform;
        st.run_args = st.run_args.ForChildStage();
        for (const Command& c : df.stages[*ps.base_stage].commands) {
          triggers += std::holds_alternative<OnbuildCommand>(c) ? 1 : 0;
        }
        break;
      }
    }
    LiveRoot live;
    // Triggers of the base ran (or run now): the new image has none.
    st.config.config.on_build.clear();
    if (!sde_created.empty()) st.created = sde_created;
    DispatchState ds;
    for (size_t k = 0; k < ps.commands.size(); ++k) {
      if (cancel.load()) return Status(Code::kInternal, "cancelled");
      const Command& c = ps.commands[k];
      std::string label = FormatCommand(c);
      if (k < triggers) label = "ONBUILD " + label;
      if (IsMetadataCommand(c)) {
        if (const auto* a = std::get_if<ArgCommand>(&c)) {
          for (const ArgDef& def : a->args) st.run_args.Declare(def.key, def.value);
        } else if (const auto* e = std::get_if<EnvCommand>(&c)) {
          for (const KeyValue& kv : e->env) st.run_args.EnvSet(kv.key);
        }
        Status s = ApplyMetadata(c, st.created, &ds, &st.config);
        if (!s.ok()) return Fail(c, s);
        continue;
      }
      if (const auto* w = std::get_if<WorkdirCommand>(&c)) {
        Result<std::string> wd = NormalizeWorkdir(st.config.config.working_dir, w->path);
        if (!wd.ok()) return Fail(c, wd.status());
        st.config.config.working_dir = *wd;
        bool layer = false;
        std::string prefix = counter.Prefix();
        if (*wd != "/") {
          CacheKeyBuilder kb("workdir");
          kb.Add("parent", st.key)
              .Add("platform", ps.platform.Format())
              .Add("path", *wd)
              .Add("user", st.config.config.user);
          Digest key = LayerOptionsKey(kb);
          std::string path = *wd;
          Result<bool> r =
              LayerStep(st, c, prefix + label, key, [&](int) { return MakeWorkdir(st, path); });
          if (!r.ok()) return r.status();
          layer = *r;
        }
        AddHistory(&st.config, "WORKDIR " + *wd, !layer, st.created);
        continue;
      }
      if (std::holds_alternative<RunCommand>(c)) {
        Result<bool> r = RunStep(ps, st, live, c, counter.Prefix() + label);
        if (!r.ok()) return r.status();
        continue;
      }
      Result<bool> layer = CopyStep(ps, st, c, counter.Prefix() + label);
      if (!layer.ok()) return layer.status();
      AddHistory(&st.config, CopyHistoryText(c), !*layer, st.created);
    }
    std::lock_guard<std::mutex> lock(mu);
    stages[i] = std::move(st);
    return Status::Ok();
  }

  Status RunWaves() {
    for (const std::vector<size_t>& wave : plan.waves) {
      std::vector<Status> results(wave.size());
      std::vector<std::thread> threads;
      for (size_t w = 1; w < wave.size(); ++w) {
        threads.emplace_back([this, w, &wave, &results] {
          results[w] = RunStage(wave[w]);
          if (!results[w].ok()) cancel = true;
        });
      }
      results[0] = RunStage(wave[0]);
      if (!results[0].ok()) cancel = true;
      for (std::thread& t : threads) t.join();
      // The first real failure (a sibling's "cancelled" is its consequence).
      for (const Status& s : results) {
        if (!s.ok() && s.message() != "cancelled") return s;
      }
      for (const Status& s : results) HOIST_RETURN_IF_ERROR(s);
    }
    return Status::Ok();
  }

  // ---- export ----

  Result<BuildResult> Export() {
    int v = progress.Start("exporting to image");
    StageState& st = stages.at(plan.target);
    ImageConfig cfg = st.config;
    for (const auto& [k, val] : opt->labels) cfg.config.labels[k] = val;
    cfg.created = st.created;
    cfg.diff_ids.clear();
    for (const LayerRef& l : st.layers) cfg.diff_ids.push_back(l.diff_id);
    Result<transfer::Descriptor> config =
        PutSmallBlob(store, std::string(media::kOciConfig), cfg.Serialize());
    if (!config.ok()) {
      progress.Error(v, config.status().message());
      return config.status();
    }
    ordered_json m = ordered_json::object();
    m["schemaVersion"] = 2;
    m["mediaType"] = media::kOciManifest;
    m["config"] = {{"mediaType", config->media_type},
                   {"digest", config->digest.str()},
                   {"size", config->size}};
    ordered_json layers = ordered_json::array();
    for (const LayerRef& l : st.layers) {
      layers.push_back({{"mediaType", OciLayerType(l.media_type)},
                        {"digest", l.digest.str()},
                        {"size", l.size}});
    }
    m["layers"] = layers;
    std::map<std::string, std::string> ann = opt->annotations;
    if (!sde_created.empty()) ann["org.opencontainers.image.created"] = sde_created;
    if (!ann.empty()) {
      ordered_json a = ordered_json::object();
      for (const auto& [k, val] : ann) a[k] = val;
      m["annotations"] = a;
    }
    Result<transfer::Descriptor> manifest =
        PutSmallBlob(store, std::string(media::kOciManifest), m.dump());
    if (!manifest.ok()) {
      progress.Error(v, manifest.status().message());
      return manifest.status();
    }
    progress.Log(v, "exporting config " + config->digest.str() + " done");
    progress.Log(v, "exporting manifest " + manifest->digest.str() + " done");
    progress.Done(v);
    BuildResult r;
    r.manifest = *manifest;
    r.config = *config;
    r.base_location = st.base_location;
    return r;
  }
};

Result<BuildResult> Builder::BuildPlatforms(const BuildOptions& options,
                                            const std::vector<Platform>& platforms) {
  BuildResult all;
  ordered_json manifests = ordered_json::array();
  for (size_t i = 0; i < platforms.size(); ++i) {
    BuildOptions o = options;
    o.platform = platforms[i];
    Result<BuildResult> r = Build(o);
    if (!r.ok()) return r.status();
    if (i == 0) {
      all.config = r->config;
      all.base_location = r->base_location;
    }
    all.steps_run += r->steps_run;
    all.steps_cached += r->steps_cached;
    all.seconds += r->seconds;
    // image-spec "Image Index": each entry names its platform.
    ordered_json p = {{"architecture", platforms[i].arch}, {"os", platforms[i].os}};
    if (!platforms[i].variant.empty()) p["variant"] = platforms[i].variant;
    manifests.push_back({{"mediaType", r->manifest.media_type},
                         {"digest", r->manifest.digest.str()},
                         {"size", r->manifest.size},
                         {"platform", p}});
  }
  ordered_json index = {
      {"schemaVersion", 2}, {"mediaType", media::kOciIndex}, {"manifests", manifests}};
  Result<transfer::Descriptor> d =
      PutSmallBlob(impl_->store, std::string(media::kOciIndex), index.dump());
  if (!d.ok()) return d.status();
  all.manifest = *d;
  return all;
}

Builder::Builder(store::ContentStore& store, transfer::Places& places, BuildProgress& progress)
    : impl_(std::make_unique<Impl>(store, places, progress)) {}

Builder::~Builder() = default;

Result<BuildResult> Builder::Build(const BuildOptions& options) {
  Impl& b = *impl_;
  auto t0 = std::chrono::steady_clock::now();
  b.opt = &options;
  b.resolver = std::make_unique<BaseImageResolver>(b.store, b.cache, b.places, options.jobs,
                                                   options.base_lookup);
  b.stages.clear();
  b.context.reset();
  b.cancel = false;
  b.steps_run = 0;
  b.steps_cached = 0;
  b.sde_created = options.source_date_epoch ? FormatUtcSeconds(*options.source_date_epoch) : "";
  b.work_dir = paths::WorkDir(b.store.root()) + "/" + UniqueName();
  HOIST_RETURN_IF_ERROR(store::MakeDirs(b.work_dir));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{b.work_dir};
  struct LiveCleanup {
    Impl& b;
    ~LiveCleanup() {
      for (const std::string& dir : b.live_roots) {
        if (b.sandbox) (void)b.sandbox->RemoveTree(dir);
      }
      b.live_roots.clear();
    }
  } live_cleanup{b};

  int v = b.progress.Start("[internal] load build definition from " + options.dockerfile->name());
  b.progress.Log(v, "transferring dockerfile: " +
                        std::to_string(options.dockerfile->text().size()) + "B done");
  b.progress.Done(v);
  Status st = b.Plan();
  if (!st.ok()) return st;
  for (const Warning& w : b.plan.warnings) {
    b.progress.Message("warning", FormatWarning(options.dockerfile.get(), w));
  }
  st = b.RunWaves();
  if (!st.ok()) return st;
  Result<BuildResult> r = b.Export();
  if (!r.ok()) return r;
  if (b.context) {
    Status saved = SaveIndex(*b.context);
    if (!saved.ok()) b.progress.Message("warning", "context index not saved: " + saved.message());
  }
  r->steps_run = b.steps_run;
  r->steps_cached = b.steps_cached;
  r->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace hoist::engine
