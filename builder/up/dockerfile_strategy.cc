// DockerfileStrategy (strategies.h): the build engine as a library call.
#include <algorithm>
#include <filesystem>

#include "builder/dockerfile/platform.h"
#include "builder/engine/cli_commands.h"
#include "builder/engine/context.h"
#include "builder/engine/engine.h"
#include "builder/engine/image_store.h"
#include "builder/engine/paths.h"
#include "builder/layer/writer.h"
#include "builder/store/content_store.h"
#include "builder/up/strategies.h"

namespace hoist::up {
namespace {

std::string DockerfilePath(const ImageSpec& spec, const Context& ctx) {
  std::string context = ResolvePath(ctx.base_dir, spec.dockerfile.context);
  return ResolvePath(context, spec.dockerfile.file.empty() ? "Dockerfile" : spec.dockerfile.file);
}

// The path as the user sees it: relative to the file's directory.
std::string Shown(const std::string& path, const Context& ctx) {
  return std::filesystem::path(path).lexically_relative(ctx.base_dir).string();
}

}  // namespace

DockerfileStrategy::DockerfileStrategy() = default;
DockerfileStrategy::~DockerfileStrategy() = default;

Result<store::ContentStore*> DockerfileStrategy::Store() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!store_) {
    Result<std::unique_ptr<store::ContentStore>> s =
        store::ContentStore::OpenRoot(store::ContentStore::DefaultRoot());
    if (!s.ok()) return Status(s.status().code(), "local store: " + s.status().message());
    store_ = std::move(*s);
  }
  return store_.get();
}

std::string DockerfileStrategy::Describe(const ImageSpec& spec, const Context& ctx) const {
  return Shown(DockerfilePath(spec, ctx), ctx) +
         (spec.dockerfile.target.empty() ? "" : " --target " + spec.dockerfile.target);
}

Result<ProducedImage> DockerfileStrategy::Produce(const ImageSpec& spec, Context& ctx) {
  Result<store::ContentStore*> store = Store();
  if (!store.ok()) return StrategyError(store.status(), "build", ctx);
  const std::string root = (*store)->root();
  // The context and the Dockerfile as `hoist build` opens them (absolute
  // paths: the file's directory, not ours, is where they start).
  Result<std::unique_ptr<engine::BuildContext>> context =
      engine::OpenContext(ResolvePath(ctx.base_dir, spec.dockerfile.context),
                          DockerfilePath(spec, ctx), engine::paths::WorkDir(root));
  if (!context.ok()) return StrategyError(context.status(), "build context", ctx);
  const engine::BuildContext& c = **context;
  engine::BuildOptions o;
  o.dockerfile =
      std::make_shared<const dockerfile::Source>(Shown(c.dockerfile_path, ctx), c.dockerfile_text);
  o.context_dir = c.dir;
  o.ignore = c.ignore;
  if (c.index_id) o.context_index = engine::paths::ContextIndex(root, *c.index_id);
  for (const auto& [k, v] : spec.dockerfile.args)
    o.build_args[k] = SubstituteRegistry(v, ctx.registry);
  o.target = spec.dockerfile.target;
  // One platform, or several: one image each under an image index, as
  // `hoist build --platform a,b` makes.
  std::vector<dockerfile::Platform> platforms;
  if (!spec.dockerfile.platform.empty()) {
    Result<std::vector<dockerfile::Platform>> p =
        dockerfile::ParsePlatforms(spec.dockerfile.platform);
    if (!p.ok()) return StrategyError(p.status(), "platform", ctx);
    platforms = std::move(*p);
    if (platforms.size() == 1) o.platform = platforms[0];
  }
  Result<std::optional<int64_t>> sde = layer::SourceDateEpochFromEnv();
  if (!sde.ok()) return StrategyError(sde.status(), "SOURCE_DATE_EPOCH", ctx);
  o.source_date_epoch = *sde;
  // RUN: the isolation of $HOIST_ISOLATION (else auto); no step outlives
  // the image's timeout.
  if (Status run = engine::ApplyRunFlags({}, &o); !run.ok()) {
    return StrategyError(run, "HOIST_ISOLATION", ctx);
  }
  if (ctx.deadline != std::chrono::steady_clock::time_point::max()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        ctx.deadline - std::chrono::steady_clock::now());
    o.run_timeout = std::max(left, std::chrono::milliseconds(1));
  }

  engine::BuildProgress progress(engine::ProgressStyle::kPlain, ctx.log);
  engine::Builder builder(**store, *ctx.places, progress);
  Result<engine::BuildResult> r =
      platforms.size() > 1 ? builder.BuildPlatforms(o, platforms) : builder.Build(o);
  if (!r.ok()) {
    progress.Message("error", "ERROR: " + r.status().message());
    return StrategyError(r.status(), "build", ctx);
  }
  ProducedImage img;
  img.source = std::make_unique<engine::StoreImageSource>(
      **store, r->manifest, "build of " + spec.name, r->base_location);
  img.detail =
      std::to_string(r->steps_run) + " step(s) run, " + std::to_string(r->steps_cached) + " cached";
  return img;
}

}  // namespace hoist::up
