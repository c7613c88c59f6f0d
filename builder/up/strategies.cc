#include "builder/up/strategies.h"

#include <filesystem>

#include "builder/sign/cli_commands.h"
#include "builder/transfer/layout.h"
#include "builder/up/process.h"

namespace hoist::up {
// --- ImportStrategy ---------------------------------------------------------

std::string ImportStrategy::Describe(const ImageSpec& spec, const Context& ctx) const {
  return "from " + SubstituteRegistry(spec.source, ctx.registry);
}

Result<ProducedImage> ImportStrategy::Produce(const ImageSpec& spec, Context& ctx) {
  std::string text = SubstituteRegistry(spec.source, ctx.registry);
  Result<transfer::Place> place = transfer::ParsePlace(text);
  if (!place.ok()) return StrategyError(place.status(), "source " + text, ctx);
  if (place->local()) place->path = ResolvePath(ctx.base_dir, place->path);
  if (!spec.verify.empty()) {
    if (place->local()) {
      return StrategyError(Status(Code::kInvalidArgument,
                                  "verify needs a registry source (signatures live in registries)"),
                           "source " + text, ctx);
    }
    std::vector<std::string> keys;
    for (const std::string& k : spec.verify) keys.push_back(ResolvePath(ctx.base_dir, k));
    Result<sign::SourceVerdict> v =
        sign::CheckSource(*ctx.places->Client(place->ref->domain()), *place->ref, keys);
    if (!v.ok()) return StrategyError(v.status(), "source " + text, ctx);
    std::fprintf(ctx.log, "%s\n", v->line.c_str());
    place->ref = place->ref->WithDigest(v->digest);
  }
  Result<std::unique_ptr<transfer::ImageSource>> src = ctx.places->OpenSource(*place);
  if (!src.ok()) return StrategyError(src.status(), "source " + text, ctx);
  Result<transfer::Manifest> top = (*src)->TopManifest();
  if (!top.ok()) return StrategyError(top.status(), "source " + text, ctx);
  std::fprintf(ctx.log, "source %s: %s %s\n", text.c_str(), top->media_type.c_str(),
               top->digest.str().c_str());
  ProducedImage out;
  out.source = std::move(*src);
  out.detail = "source " + top->digest.str().substr(0, 19);
  return out;
}

// --- CommandStrategy --------------------------------------------------------

std::string CommandStrategy::OutputDir(const ImageSpec& spec, const Context& ctx) {
  return spec.command.output.empty() ? ctx.work_dir + "/out"
                                     : ResolvePath(ctx.base_dir, spec.command.output);
}

std::string CommandStrategy::Describe(const ImageSpec& spec, const Context&) const {
  return "sh -c '" + spec.command.run + "'";
}

Result<ProducedImage> CommandStrategy::Produce(const ImageSpec& spec, Context& ctx) {
  std::string out = OutputDir(spec, ctx);
  std::error_code ec;
  if (spec.command.output.empty()) std::filesystem::remove_all(out, ec);
  std::filesystem::create_directories(out, ec);
  if (ec) return StrategyError(Status(Code::kIo, ec.message()), "creating " + out, ctx);
  std::fprintf(ctx.log, "$ sh -c '%s'  (HOIST_OUTPUT=%s)\n", spec.command.run.c_str(), out.c_str());
  std::fflush(ctx.log);
  SpawnOptions so;
  so.argv = {"/bin/sh", "-c", spec.command.run};
  so.env = {"HOIST_OUTPUT=" + out, "REGISTRY=" + ctx.registry, "HOIST_IMAGE=" + spec.name,
            "HOIST_REFERENCE=" + spec.FinalReference(ctx.registry)};
  so.cwd = ctx.base_dir;
  so.output_fd = fileno(ctx.log);
  so.new_process_group = true;
  Result<pid_t> pid = Spawn(so);
  if (!pid.ok()) return StrategyError(pid.status(), "command", ctx);
  std::optional<int> status;
  while (!status && Clock::now() < ctx.deadline && !ctx.Cancelled()) {
    status = WaitUntil(*pid, std::min(ctx.deadline, Clock::now() + std::chrono::milliseconds(200)));
  }
  if (!status) {
    Stop(*pid, /*group=*/true, std::chrono::seconds(5));
    std::string why = ctx.Cancelled() ? "interrupted" : "timed out (build.timeout)";
    std::fprintf(ctx.log, "hoist: %s; the command was killed\n", why.c_str());
    return StrategyError(Status(Code::kIo, why + " and was killed"), "command", ctx);
  }
  if (*status != 0) {
    return StrategyError(Status(Code::kInternal, DescribeWaitStatus(*status)), "command failed",
                         ctx);
  }
  Result<std::unique_ptr<transfer::LayoutSource>> layout =
      transfer::LayoutSource::Open(out, "", "oci:" + out);
  if (!layout.ok()) {
    return StrategyError(layout.status(),
                         "the command left no usable OCI image layout in HOIST_OUTPUT", ctx);
  }
  Result<transfer::Manifest> top = (*layout)->TopManifest();
  if (!top.ok()) return StrategyError(top.status(), "oci:" + out, ctx);
  ProducedImage img;
  img.source = std::move(*layout);
  img.detail = "layout " + top->digest.str().substr(0, 19);
  return img;
}

// --- the table --------------------------------------------------------------

StrategyTable DefaultStrategies() {
  StrategyTable t;
  t.Register("dockerfile", std::make_unique<DockerfileStrategy>());
  t.Register("source", std::make_unique<ImportStrategy>());
  t.Register("command", std::make_unique<CommandStrategy>());
  return t;
}

}  // namespace hoist::up
