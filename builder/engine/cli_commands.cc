#include "builder/engine/cli_commands.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "builder/dockerfile/cli_commands.h"
#include "builder/engine/cache.h"
#include "builder/engine/context.h"
#include "builder/engine/engine.h"
#include "builder/engine/image_store.h"
#include "builder/engine/paths.h"
#include "builder/layer/writer.h"
#include "builder/sbom/inventory.h"
#include "builder/sign/cli_commands.h"
#include "builder/store/content_store.h"
#include "builder/transfer/copy.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/place.h"
#include "builder/transfer/remote.h"
#include "common/reference.h"

namespace hoist::engine {
namespace {

using nlohmann::json;

constexpr const char* kCmd = "hoist build";
// Blobs and extractions younger than this survive the automatic bound
// (another build may be about to reference them).
constexpr int64_t kEvictMinAgeSec = 600;

int Usage(const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", kCmd, msg.c_str());
  return kExitUsage;
}

Result<std::optional<int64_t>> SourceDateEpoch(const std::string& flag) {
  if (flag.empty()) return layer::SourceDateEpochFromEnv();
  if (flag.find_first_not_of("0123456789") != std::string::npos || flag.size() > 18) {
    return Status(Code::kInvalidArgument, "--source-date-epoch " + flag +
                                              ": want seconds since 1970 (a non-negative integer)");
  }
  return std::optional<int64_t>(std::stoll(flag));
}

// Copies `src` to `sink` as one progress vertex with a summary line (and a
// "pushed" JSON event).
Status CopyWithProgress(transfer::ImageSource& src, transfer::ImageSink& sink,
                        const std::string& what, int jobs, BuildProgress& progress) {
  int v = progress.Start(what);
  transfer::CopyOptions co;
  co.jobs = jobs;
  Result<transfer::CopySummary> sum = transfer::Copy(src, sink, co);
  if (!sum.ok()) {
    progress.Error(v, sum.status().message());
    return sum.status();
  }
  progress.Log(v, std::to_string(sum->blobs_copied) + " blob(s) uploaded (" +
                      transfer::HumanBytes(sum->bytes_copied) + "), " +
                      std::to_string(sum->blobs_skipped) + " already there, " +
                      std::to_string(sum->blobs_mounted) + " mounted");
  progress.Done(v);
  progress.Event("pushed", json{{"destination", sink.Name()},
                                {"manifest", sum->top.digest.str()},
                                {"uploaded", sum->blobs_copied},
                                {"skipped", sum->blobs_skipped},
                                {"mounted", sum->blobs_mounted},
                                {"bytes", sum->bytes_copied}}
                               .dump());
  return Status::Ok();
}

}  // namespace

Status ApplyRunFlags(const BuildFlags& f, BuildOptions* o) {
  std::string isolation = f.isolation;
  if (isolation.empty()) {
    const char* env = std::getenv("HOIST_ISOLATION");
    isolation = env != nullptr && *env != '\0' ? env : "auto";
  }
  Result<sandbox::Isolation> iso = sandbox::ParseIsolation(isolation);
  if (!iso.ok()) return Status(Code::kInvalidArgument, "--isolation: " + iso.status().message());
  o->isolation = *iso;
  std::string snap = f.snapshotter;
  if (snap.empty()) {
    const char* env = std::getenv("HOIST_SNAPSHOTTER");
    snap = env != nullptr && *env != '\0' ? env : "auto";
  }
  if (snap == "auto") {
    o->snapshotter = BuildOptions::Snapshotter::kAuto;
  } else if (snap == "overlay") {
    o->snapshotter = BuildOptions::Snapshotter::kOverlay;
  } else if (snap == "walk") {
    o->snapshotter = BuildOptions::Snapshotter::kWalk;
  } else {
    return Status(Code::kInvalidArgument, "--snapshotter: unknown snapshotter \"" + snap +
                                              "\" (want auto, overlay or walk)");
  }
  for (const std::string& e : f.allow) {
    // BuildKit's entitlement names (buildx build --allow).
    if (e != "network.host" && e != "security.insecure") {
      return Status(Code::kInvalidArgument,
                    "--allow: unknown entitlement \"" + e + "\" (network.host, security.insecure)");
    }
    o->entitlements.insert(e);
  }
  for (const std::string& spec : f.secrets) {
    Result<SecretSource> s = ParseSecretSpec(spec);
    if (!s.ok()) return s.status();
    o->secrets[s->id] = *s;
  }
  for (const std::string& spec : f.ssh) {
    size_t eq = spec.find('=');
    std::string id = spec.substr(0, eq);
    std::string sock = eq == std::string::npos ? "" : spec.substr(eq + 1);
    if (sock.empty()) {
      const char* env = std::getenv("SSH_AUTH_SOCK");
      if (env == nullptr || *env == '\0') {
        return Status(Code::kInvalidArgument,
                      "--ssh " + spec + ": no socket given and SSH_AUTH_SOCK is not set");
      }
      sock = env;
    }
    if (id.empty()) return Status(Code::kInvalidArgument, "--ssh " + spec + ": no id");
    o->ssh[id] = sock;
  }
  return Status::Ok();
}

CliCommands::CliCommands(CLI::App& app) : app_(app) {
  build_ = app.add_subcommand("build", "Build an image from a Dockerfile (no daemon, no root)");
  BuildFlags& f = flags_;
  build_
      ->add_option("context", f.context,
                   "Build context: a directory, - (a tar on stdin), a tarball or a git URL")
      ->capture_default_str();
  build_->add_option("-t,--tag", f.tags, "Name the image REF (repeatable); with --push, push there")
      ->allow_extra_args(false);
  build_->add_option("-f,--file", f.file, "The Dockerfile (default CONTEXT/Dockerfile)");
  build_->add_option("--build-arg", f.build_args, "KEY=VALUE build argument (repeatable)")
      ->allow_extra_args(false);
  build_->add_option("--target", f.target, "The stage to build (default: the last)");
  build_->add_option("--platform", f.platform,
                     "Target platform, e.g. linux/arm64; several (linux/amd64,linux/arm64) "
                     "build one image each and an image index of them");
  build_->add_option("--label", f.labels, "KEY=VALUE label on the image (repeatable)")
      ->allow_extra_args(false);
  build_->add_flag("--no-cache", f.no_cache, "Run every step (the cache is still updated)");
  build_->add_option("--compression", f.compression, "Layer compression: gzip or zstd")
      ->capture_default_str();
  build_->add_option("--compression-level", f.compression_level,
                     "gzip 0-9 (default 6) or zstd 1-19 (default 3)");
  build_->add_option("--source-date-epoch", f.source_date_epoch,
                     "Timestamp (seconds) for created times and layer mtimes "
                     "(default $SOURCE_DATE_EPOCH)");
  build_->add_flag("--push", f.push, "Push the image to every -t registry");
  build_->add_flag("--sbom", f.sbom,
                   "Attach an SPDX 2.3 document of each pushed image (its packages) as an OCI 1.1 "
                   "referrer (with --push)");
  build_->add_option("--sign", f.sign_key,
                     "Sign each pushed image with this key, as `hoist sign` does (with --push)");
  build_->add_option("--output,-o", f.output,
                     "Also write the image to oci:DIR[:TAG], oci-archive:FILE[:TAG] or "
                     "docker-archive:FILE");
  build_->add_option("--progress", f.progress, "auto|plain|tty|json|quiet")->capture_default_str();
  build_->add_flag("--quiet,-q", f.quiet, "Print nothing but the digest (--progress quiet)");
  build_->add_option("--iidfile", f.iidfile, "Write the image's manifest digest to this file");
  build_->add_option("--jobs,-j", f.jobs, "Blobs pulled or pushed at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  build_->add_option("--isolation", f.isolation,
                     "How RUN executes: auto (a user namespace, else root's namespaces, else "
                     "proot), userns, root or proot (default $HOIST_ISOLATION, else auto)");
  build_->add_option("--snapshotter", f.snapshotter,
                     "How RUN's changes are found: auto (overlay where the kernel allows it, "
                     "else walk), overlay or walk (default $HOIST_SNAPSHOTTER, else auto)");
  build_
      ->add_option("--secret", f.secrets,
                   "A secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR "
                   "(repeatable)")
      ->allow_extra_args(false);
  build_
      ->add_option("--ssh", f.ssh,
                   "An SSH agent socket for RUN --mount=type=ssh: default or ID[=SOCKET] "
                   "(default $SSH_AUTH_SOCK; repeatable)")
      ->allow_extra_args(false);
  build_
      ->add_option("--allow", f.allow,
                   "Grant an entitlement (repeatable): network.host for RUN --network=host; "
                   "security.insecure (named, but hoist runs no insecure steps)")
      ->allow_extra_args(false);
  build_->add_flag("--strict", f.strict,
                   "BuildKit's dialect only: refuse buildah/podman extensions (RUN --mount "
                   "z/Z/U/relabel/tmpcopyup, COPY --from=$ARG, FROM Stage in other case) as "
                   "BuildKit does");
  build_->add_flag("--print-plan", f.print_plan, "Print the pruned stage graph and exit");
  build_->add_flag("--json", f.json, "With --print-plan: print the plan as JSON");
  transfer::AddConnectionFlags(build_, conn_);

  cache_ = app.add_subcommand("cache", "Manage the build cache in the local store");
  cache_->require_subcommand(1);
  prune_ = cache_->add_subcommand(
      "prune", "Remove cache records and blobs that no record or local image references");
  prune_->add_flag("--all,-a", prune_all_, "Remove every cache record and extracted filesystem");
  prune_->add_option("--keep-storage", keep_storage_,
                     "Evict least recently used entries until the store holds at most SIZE");
  prune_->add_flag("--json", prune_json_, "Print the report as JSON");

  push_app_.add_option("source", push_src_, "An image in the local store (hoist build -t NAME)")
      ->required();
  push_app_.add_option("reference", push_dst_, "Destination image reference")->required();
  push_app_.add_option("--jobs,-j", push_jobs_, "Blobs transferred at once")
      ->check(CLI::Range(1, 64));
  push_app_.add_flag("--quiet,-q", push_quiet_, "Print no progress");
  push_app_.add_flag("--json", push_json_, "Print progress as JSON events on stdout");
  transfer::AddConnectionFlags(&push_app_, conn_);
}

bool CliCommands::Owns(int argc, char** argv) {
  if (argc < 2) return false;
  std::string cmd = argv[1];
  if (cmd == "push") {
    // Ours only for a name in the local store's image index.
    try {
      push_app_.parse(argc - 1, argv + 1);
    } catch (const CLI::ParseError&) {
      return false;
    }
    Result<transfer::Place> place = transfer::ParsePlace(push_src_);
    if (!place.ok() || place->local()) return false;
    owns_push_ = ImageIndex(store::ContentStore::DefaultRoot()).Lookup(place->ref->String()).ok();
    return owns_push_;
  }
  return cmd == build_->get_name() || cmd == cache_->get_name();
}

int CliCommands::Run(int argc, char** argv) {
  if (owns_push_) return RunPush();
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (*build_) return RunBuild();
  if (*prune_) return RunPrune();
  return kExitUsage;
}

int CliCommands::RunBuild() {
  const BuildFlags& f = flags_;
  if (f.print_plan) {
    dockerfile::BuildCommandOptions o;
    o.context = f.context;
    o.file = f.file;
    o.build_args = f.build_args;
    o.target = f.target;
    o.platform = f.platform;
    o.print_plan = true;
    o.json = f.json;
    o.strict = f.strict;
    return dockerfile::RunBuild(o);
  }
  std::optional<ProgressStyle> style =
      ParseProgressStyle(f.quiet ? std::string("quiet") : f.progress, stderr);
  if (!style) return Usage("--progress must be auto, plain, tty, json or quiet");
  BuildOptions o;
  Result<layer::Compression> comp = layer::ParseCompression(f.compression);
  if (!comp.ok() || *comp == layer::Compression::kNone) {
    return Usage("--compression must be gzip or zstd");
  }
  o.compress.compression = *comp;
  if (f.compression_level != -1) {
    bool gzip = *comp == layer::Compression::kGzip;
    if (gzip ? (f.compression_level < 0 || f.compression_level > 9)
             : (f.compression_level < 1 || f.compression_level > 22)) {
      return Usage("--compression-level " + std::to_string(f.compression_level) +
                   " is out of range for " + f.compression);
    }
    o.compress.level = f.compression_level;
  }
  Result<std::optional<int64_t>> sde = SourceDateEpoch(f.source_date_epoch);
  if (!sde.ok()) return Usage(sde.status().message());
  o.source_date_epoch = *sde;
  std::vector<Reference> tags;
  for (const std::string& t : f.tags) {
    Result<Reference> r = Reference::Parse(t);
    if (!r.ok()) return Usage("invalid -t " + t + ": " + r.status().message());
    tags.push_back(*r);
  }
  if (f.push && tags.empty()) return Usage("--push needs at least one -t REF");
  if (f.sbom && !f.push)
    return Usage("--sbom needs --push (the document is attached in the registry)");
  // The key is opened before the build, so a wrong passphrase costs no build.
  std::optional<sign::PrivateKey> sign_key;
  if (!f.sign_key.empty()) {
    if (!f.push) return Usage("--sign needs --push (signatures are stored in the registry)");
    Result<sign::PrivateKey> k = sign::LoadPrivateKey(f.sign_key);
    if (!k.ok()) return Usage("--sign: " + k.status().message());
    sign_key = std::move(*k);
  }
  std::optional<transfer::Place> output;
  if (!f.output.empty()) {
    Result<transfer::Place> p = transfer::ParsePlace(f.output);
    if (!p.ok()) return Usage(p.status().message());
    if (!p->local()) {
      return Usage(
          "--output takes oci:DIR, oci-archive:FILE or docker-archive:FILE (use -t and "
          "--push for registries)");
    }
    output = *p;
  }
  std::optional<std::vector<std::optional<dockerfile::Platform>>> platforms =
      dockerfile::ParsePlatformList(f.platform, kCmd);
  if (!platforms) return kExitUsage;
  std::vector<dockerfile::Platform> several;  // a multi-platform build: an index
  if (platforms->size() == 1) {
    o.platform = (*platforms)[0];
  } else {
    for (const std::optional<dockerfile::Platform>& p : *platforms) several.push_back(*p);
  }
  std::optional<std::map<std::string, std::string>> args =
      dockerfile::ParseBuildArgs(f.build_args, kCmd);
  if (!args) return kExitUsage;
  o.build_args = *args;
  for (const std::string& l : f.labels) {
    size_t eq = l.find('=');
    if (eq == 0 || eq == std::string::npos)
      return Usage("invalid --label " + l + ": want KEY=VALUE");
    o.labels[l.substr(0, eq)] = l.substr(eq + 1);
  }
  if (Status run = ApplyRunFlags(f, &o); !run.ok()) return Usage(run.message());
  if (f.strict) o.dialect = dockerfile::Dialect::kBuildKit;
  o.target = f.target;
  o.no_cache = f.no_cache;
  o.jobs = f.jobs;

  Result<std::unique_ptr<store::ContentStore>> store =
      store::ContentStore::OpenRoot(store::ContentStore::DefaultRoot());
  if (!store.ok()) {
    std::fprintf(stderr, "%s: local store: %s\n", kCmd, store.status().message().c_str());
    return kExitFailed;
  }

  // The context and the Dockerfile (context.h); temporary ones (archives,
  // clones) go to the store's work directory.
  Result<std::unique_ptr<BuildContext>> ctx =
      OpenContext(f.context, f.file, paths::WorkDir((*store)->root()));
  if (!ctx.ok()) return Usage(ctx.status().message());
  o.dockerfile =
      std::make_shared<const dockerfile::Source>((*ctx)->dockerfile_name, (*ctx)->dockerfile_text);
  o.context_dir = (*ctx)->dir;
  o.ignore = (*ctx)->ignore;
  if ((*ctx)->index_id) o.context_index = paths::ContextIndex((*store)->root(), *(*ctx)->index_id);
  if (!(*ctx)->git_remote.empty()) {
    o.annotations["org.opencontainers.image.source"] = (*ctx)->git_remote;
    if (!(*ctx)->git_commit.empty()) {
      o.annotations["org.opencontainers.image.revision"] = (*ctx)->git_commit;
    }
  }

  std::FILE* out = *style == ProgressStyle::kJson ? stdout : stderr;
  BuildProgress progress(*style, out);
  transfer::Places places(transfer::ClientOptions(conn_));
  Builder builder(**store, places, progress);
  Result<BuildResult> r = several.empty() ? builder.Build(o) : builder.BuildPlatforms(o, several);
  if (!r.ok()) {
    progress.Message("error", "ERROR: " + r.status().message());
    if (*style == ProgressStyle::kJson || *style == ProgressStyle::kQuiet) {
      std::fprintf(stderr, "%s: %s\n", kCmd, r.status().message().c_str());
    }
    return kExitFailed;
  }

  ImageIndex index((*store)->root());
  for (const Reference& t : tags) {
    Status s = index.Tag(t.String(), r->manifest);
    if (!s.ok()) {
      progress.Message("error", "ERROR: naming " + t.String() + ": " + s.message());
      return kExitFailed;
    }
  }
  StoreImageSource src(**store, r->manifest, "build " + r->manifest.digest.str(), r->base_location);
  auto copy_to = [&](transfer::ImageSink& sink, const std::string& what) -> bool {
    return CopyWithProgress(src, sink, what, f.jobs, progress).ok();
  };
  if (f.push) {
    for (const Reference& t : tags) {
      auto sink = std::make_unique<transfer::RemoteSink>(places.Client(t.domain()), t);
      if (!copy_to(*sink, "pushing " + t.String())) return kExitFailed;
      if (f.sbom) {
        Result<std::vector<Digest>> attached =
            sbom::AttachSboms(src, *places.Client(t.domain()), t.path(), t.String());
        if (!attached.ok()) {
          progress.Message("error",
                           "ERROR: SBOM of " + t.String() + ": " + attached.status().message());
          return kExitFailed;
        }
        for (const Digest& d : *attached) {
          progress.Message("summary",
                           "attached an SPDX document to " + t.String() + " (" + d.str() + ")");
        }
      }
      if (!sign_key) continue;
      // By digest (what was just pushed, whoever moves the tag), claiming the tag.
      sign::SignOptions so;
      so.identity = t.Name() + ":" + t.tag();
      Result<sign::SignResult> signed_image = sign::SignImage(
          *places.Client(t.domain()), t.WithDigest(r->manifest.digest), *sign_key, so);
      if (!signed_image.ok()) {
        progress.Message("error",
                         "ERROR: signing " + t.String() + ": " + signed_image.status().message());
        return kExitFailed;
      }
      progress.Message("summary", "signed " + t.String() + " (" + signed_image->image.str() + ")");
    }
  }
  if (output) {
    transfer::Place from;
    if (!tags.empty()) from.ref = tags[0];
    Result<std::unique_ptr<transfer::ImageSink>> sink = places.OpenSink(*output, &from);
    if (!sink.ok()) {
      progress.Message("error", "ERROR: " + f.output + ": " + sink.status().message());
      return kExitFailed;
    }
    if (!copy_to(**sink, "writing " + f.output)) return kExitFailed;
  }
  if (!f.iidfile.empty()) {
    Status s = transfer::WriteFileAtomic(f.iidfile, r->manifest.digest.str());
    if (!s.ok()) {
      progress.Message("error", "ERROR: --iidfile: " + s.message());
      return kExitFailed;
    }
  }
  // Hold the store to its bound.
  Result<uint64_t> max = CacheMaxBytes();
  if (max.ok()) {
    PruneOptions po;
    po.keep_bytes = *max;
    po.min_age_sec = kEvictMinAgeSec;
    Result<PruneReport> pr = Prune(**store, po);
    if (!pr.ok()) progress.Message("warning", "WARNING: cache eviction: " + pr.status().message());
  } else {
    progress.Message("warning", "WARNING: " + max.status().message());
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", r->seconds);
  progress.Message("summary", "built " + r->manifest.digest.str() + " in " + secs +
                                  "s: " + std::to_string(r->steps_run) + " step(s) run, " +
                                  std::to_string(r->steps_cached) + " cached");
  json result = {{"manifest", r->manifest.digest.str()},
                 {"config", r->config.digest.str()},
                 {"steps_run", r->steps_run},
                 {"steps_cached", r->steps_cached},
                 {"seconds", r->seconds}};
  json names = json::array();
  for (const Reference& t : tags) names.push_back(t.String());
  result["tags"] = names;
  progress.Event("result", result.dump());
  if (*style != ProgressStyle::kJson) std::printf("%s\n", r->manifest.digest.str().c_str());
  return kExitOk;
}

int CliCommands::RunPush() {
  const char* cmd = "hoist push";
  if (push_quiet_ && push_json_) {
    std::fprintf(stderr, "%s: --json and --quiet exclude each other\n", cmd);
    return kExitUsage;
  }
  Result<Reference> dst = Reference::Parse(push_dst_);
  if (!dst.ok()) {
    std::fprintf(stderr, "%s: %s\n", cmd, dst.status().message().c_str());
    return kExitUsage;
  }
  Result<Reference> name = Reference::Parse(push_src_);
  Result<std::unique_ptr<store::ContentStore>> store =
      store::ContentStore::OpenRoot(store::ContentStore::DefaultRoot());
  if (!name.ok() || !store.ok()) {
    std::fprintf(stderr, "%s: %s\n", cmd,
                 (!name.ok() ? name.status() : store.status()).message().c_str());
    return kExitFailed;
  }
  Result<transfer::Descriptor> top = ImageIndex((*store)->root()).Lookup(name->String());
  if (!top.ok()) {
    std::fprintf(stderr, "%s: %s\n", cmd, top.status().message().c_str());
    return kExitFailed;
  }
  ProgressStyle style = push_json_    ? ProgressStyle::kJson
                        : push_quiet_ ? ProgressStyle::kQuiet
                                      : ProgressStyle::kPlain;
  BuildProgress progress(style, push_json_ ? stdout : stderr);
  transfer::Places places(transfer::ClientOptions(conn_));
  StoreImageSource src(**store, *top, name->String());
  transfer::RemoteSink sink(places.Client(dst->domain()), *dst);
  Status st = CopyWithProgress(src, sink, "pushing " + dst->String(), push_jobs_, progress);
  if (!st.ok()) {
    std::fprintf(stderr, "%s: push %s -> %s failed: %s\n", cmd, push_src_.c_str(),
                 push_dst_.c_str(), st.message().c_str());
    return kExitFailed;
  }
  if (!push_json_) std::printf("%s\n", top->digest.str().c_str());
  return kExitOk;
}

int CliCommands::RunPrune() {
  PruneOptions o;
  o.all = prune_all_;
  if (!keep_storage_.empty()) {
    Result<uint64_t> n = ParseSize(keep_storage_);
    if (!n.ok()) {
      std::fprintf(stderr, "hoist cache prune: --keep-storage: %s\n", n.status().message().c_str());
      return kExitUsage;
    }
    o.keep_bytes = *n;
  }
  Result<std::unique_ptr<store::ContentStore>> store =
      store::ContentStore::OpenRoot(store::ContentStore::DefaultRoot());
  if (!store.ok()) {
    std::fprintf(stderr, "hoist cache prune: %s\n", store.status().message().c_str());
    return kExitFailed;
  }
  Result<PruneReport> r = Prune(**store, o);
  if (!r.ok()) {
    std::fprintf(stderr, "hoist cache prune: %s\n", r.status().message().c_str());
    return kExitFailed;
  }
  if (prune_json_) {
    json j = {
        {"records_removed", r->records_removed}, {"rootfs_removed", r->rootfs_removed},
        {"blobs_removed", r->blobs_removed},     {"run_caches_removed", r->run_caches_removed},
        {"bytes_freed", r->bytes_freed},         {"bytes_kept", r->bytes_kept}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "removed %d cache record(s), %d extracted filesystem(s), %d blob(s), %d RUN cache "
        "mount(s): %s freed, %s kept\n",
        r->records_removed, r->rootfs_removed, r->blobs_removed, r->run_caches_removed,
        transfer::HumanBytes(static_cast<int64_t>(r->bytes_freed)).c_str(),
        transfer::HumanBytes(static_cast<int64_t>(r->bytes_kept)).c_str());
  }
  return kExitOk;
}

}  // namespace hoist::engine
