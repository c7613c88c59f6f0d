#include "builder/build/engine.h"

#include <fcntl.h>
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

#include "builder/build/copy.h"
#include "builder/build/image_config.h"
#include "builder/build/image_store.h"
#include "builder/build/paths.h"
#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/plan.h"
#include "builder/dockerfile/report.h"
#include "builder/layer/root_dir.h"
#include "common/media_types.h"
#include "common/reference.h"

namespace hoist::build {
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

Result<std::optional<uint32_t>> ParseChmod(const std::string& s) {
  if (s.empty()) return std::optional<uint32_t>();
  if (s.size() > 4 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return Status(Code::kInvalidArgument,
                  "invalid chmod parameter " + s + ": only octal modes (e.g. 0755) are supported");
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(std::stoul(s, nullptr, 8)));
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
};

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
  std::atomic<int> steps_run{0}, steps_cached{0};
  std::string sde_created;  // Rfc3339(SOURCE_DATE_EPOCH) or ""

  Status At(int line, const std::string& msg) const {
    const Source* src = opt->dockerfile.get();
    if (line <= 0) return Status(Code::kInvalidArgument, src->name() + ": " + msg);
    return ErrorAt(src, src->LineStart(line), msg);
  }
  // A failure of instruction `c`: its position, keyword and the reason.
  Status Fail(const Command& c, const Status& st) const {
    const CommandBase& b = Base(c);
    std::string word = text_upper(b.name);
    Status pos = At(b.line(), word + ": " + st.message());
    return Status(st.code() == Code::kOk ? Code::kInternal : st.code(), pos.message(),
                  pos.detail());
  }
  static std::string text_upper(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
  }

  // ---- planning ----

  Result<Command> TriggerCommand(const Stage& st, const std::string& expression) {
    int line = st.node ? st.node->start_line : 0;
    auto fail = [&](const std::string& why) {
      return At(line,
                "ONBUILD trigger " + expression + " of base image " + st.base_name + ": " + why);
    };
    Result<Ast> ast = ParseText(expression, opt->dockerfile->name());
    if (!ast.ok()) return fail(ast.status().message());
    if (ast->children.size() != 1) return fail("onbuild trigger should be a single expression");
    Node node = ast->children[0];
    node.start_line = node.end_line = line;
    node.segments = {{0, line, 1}};
    Ast holder;
    holder.source = df.source;
    holder.escape = df.escape;
    std::optional<Stage> not_allowed;
    std::optional<Command> cmd;
    Status s = ParseInstruction(holder, node, &not_allowed, &cmd);
    if (!s.ok()) return fail(s.message());
    if (!cmd) return fail("FROM is not allowed as an ONBUILD trigger");
    return std::move(*cmd);
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
                         const std::function<Result<std::optional<LayerRef>>()>& execute) {
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
    Result<std::optional<LayerRef>> layer = execute();
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
      std::string lower = text_lower(from);
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
        d = *e;
      }
      return OpenStageTree(name, d);
    };
  }

  static std::string text_lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
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
    Result<std::optional<uint32_t>> chmod = ParseChmod(cp ? cp->chmod : add->chmod);
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

    return LayerStep(st, c, label, key, [&]() -> Result<std::optional<LayerRef>> {
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
  Result<std::optional<LayerRef>> MakeWorkdir(const StageState& st, const std::string& wd) {
    std::string root;
    if (!st.layers.empty()) {
      Result<std::string> dir = rootfs.Materialize(st.layers);
      if (!dir.ok()) return dir.status();
      root = *dir;
    }
    Owner owner;
    if (!st.config.config.user.empty()) {
      Result<Owner> o = ResolveChown(st.config.config.user, root);
      if (!o.ok()) return o.status();
      owner = *o;
    }
    std::vector<std::string> parts;
    for (const std::string& p : [&] {
           std::vector<std::string> v;
           std::string cur;
           for (char ch : CleanPath(wd)) {
             if (ch == '/') {
               if (!cur.empty()) v.push_back(cur);
               cur.clear();
             } else {
               cur += ch;
             }
           }
           if (!cur.empty()) v.push_back(cur);
           return v;
         }()) {
      parts.push_back(p);
    }
    // The longest existing prefix, resolved inside the root (symlinks).
    std::string real;  // in-image path of the existing prefix, no leading "/"
    size_t have = 0;
    if (!root.empty()) {
      Result<std::unique_ptr<layer::RootDir>> rd = layer::RootDir::Open(root);
      if (!rd.ok()) return rd.status();
      std::string rel;
      for (; have < parts.size(); ++have) {
        std::string next = rel.empty() ? parts[have] : rel + "/" + parts[have];
        Result<store::UniqueFd> fd = (*rd)->OpenDir(next, /*follow_symlinks=*/true);
        if (!fd.ok()) {
          if (fd.status().code() == Code::kNotFound) break;
          return Status(Code::kInvalidArgument, "mkdir /" + next + ": " + fd.status().message());
        }
        rel = next;
        char buf[4096];
        std::string self = "/proc/self/fd/" + std::to_string(fd->get());
        ssize_t n = ::readlink(self.c_str(), buf, sizeof buf);
        std::string host = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
        std::string canon_root = std::filesystem::weakly_canonical(root).string();
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
        st.created = Rfc3339(0);
        break;
      case BaseKind::kImage: {
        std::shared_ptr<const BaseImage> img = resolver->Resolved(ps.base, ps.platform);
        if (!img) return At(stage.node->start_line, "base image " + ps.base + " was not resolved");
        st.config = img->config;
        st.layers = img->layers;
        st.key = CacheKeyBuilder("image").Add("manifest", img->manifest.digest).Finish();
        st.created = img->config.created.empty() ? Rfc3339(0) : img->config.created;
        st.base_location = img->location;
        auto it = image_triggers.find(i);
        triggers = it == image_triggers.end() ? 0 : it->second;
        int v = progress.Start(counter.Prefix() + "FROM " + img->ref + "@" +
                               img->manifest.digest.str());
        if (img->blobs_fetched > 0) {
          progress.Log(v, "pulled " + std::to_string(img->blobs_fetched) + " blob(s), " +
                              transfer::HumanBytes(img->bytes_fetched));
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
        for (const Command& c : df.stages[*ps.base_stage].commands) {
          triggers += std::holds_alternative<OnbuildCommand>(c) ? 1 : 0;
        }
        break;
      }
    }
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
              LayerStep(st, c, prefix + label, key, [&]() { return MakeWorkdir(st, path); });
          if (!r.ok()) return r.status();
          layer = *r;
        }
        AddHistory(&st.config, "WORKDIR " + *wd, !layer, st.created);
        continue;
      }
      if (std::holds_alternative<RunCommand>(c)) {
        std::string prefix = counter.Prefix();
        int v = progress.Start(prefix + label);
        Status s = Fail(c, Status(Code::kUnsupported, "RUN is not supported yet"));
        progress.Error(v, "RUN is not supported yet");
        return s;
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

Builder::Builder(store::ContentStore& store, transfer::Places& places, BuildProgress& progress)
    : impl_(std::make_unique<Impl>(store, places, progress)) {}

Builder::~Builder() = default;

Result<BuildResult> Builder::Build(const BuildOptions& options) {
  Impl& b = *impl_;
  auto t0 = std::chrono::steady_clock::now();
  b.opt = &options;
  b.resolver = std::make_unique<BaseImageResolver>(b.store, b.cache, b.places, options.jobs);
  b.stages.clear();
  b.context.reset();
  b.cancel = false;
  b.steps_run = 0;
  b.steps_cached = 0;
  b.sde_created = options.source_date_epoch ? Rfc3339(*options.source_date_epoch) : "";
  b.work_dir = paths::WorkDir(b.store.root()) + "/" + UniqueName();
  HOIST_RETURN_IF_ERROR(store::MakeDirs(b.work_dir));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{b.work_dir};

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

}  // namespace hoist::build
