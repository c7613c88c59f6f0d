#include "builder/up/runner.h"

#include <filesystem>

#include "builder/sbom/inventory.h"
#include "builder/sign/cli_commands.h"
#include "builder/transfer/copy.h"
#include "builder/transfer/progress.h"
#include "builder/transfer/remote.h"
#include "builder/up/paths.h"
#include "builder/up/scheduler.h"
#include "common/reference.h"

namespace hoist::up {
namespace {

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string Now() {
  return FormatTime(std::chrono::system_clock::now());
}

// The image's log file, truncated; /dev/null when it cannot be created.
std::FILE* OpenLog(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::FILE* f = std::fopen(path.c_str(), "we");
  return f != nullptr ? f : std::fopen("/dev/null", "we");
}

// Signs what was pushed to `dst` (by digest, claiming the tag) with the
// image's key, unless the key has signed that digest already (an unchanged
// image run again gets no second signature).
Status SignPushed(RegistryClient& client, const Reference& dst, const Digest& digest,
                  Context& ctx) {
  if (ctx.sign_key == nullptr) return Status::Ok();
  Result<std::vector<sign::StoredSignature>> found =
      sign::FindSignatures(client, dst.path(), digest);
  if (!found.ok()) return found.status();
  std::vector<sign::NamedKey> mine;
  mine.push_back(sign::NamedKey{"sign", ctx.sign_key->Public()});
  for (const sign::StoredSignature& s : *found) {
    if (sign::Check(s, digest, mine, dst.Name() + ":" + dst.tag()).valid) {
      std::fprintf(ctx.log, "%s is signed already\n", dst.String().c_str());
      return Status::Ok();
    }
  }
  sign::SignOptions so;
  so.identity = dst.Name() + ":" + dst.tag();
  Result<sign::SignResult> r = sign::SignImage(client, dst.WithDigest(digest), *ctx.sign_key, so);
  if (!r.ok()) return Status(r.status().code(), "signing: " + r.status().message());
  std::fprintf(ctx.log, "signed %s (%s)\n", so.identity.c_str(), digest.str().c_str());
  return Status::Ok();
}

// Attaches an SPDX document to each image pushed to `dst` that has none
// there yet (builder/sbom).
Status AttachSbom(ProducedImage& image, RegistryClient& client, const Reference& dst,
                  Context& ctx) {
  if (!ctx.sbom) return Status::Ok();
  Result<std::vector<Digest>> attached =
      sbom::AttachSboms(*image.source, client, dst.path(), dst.String());
  if (!attached.ok())
    return Status(attached.status().code(), "SBOM: " + attached.status().message());
  for (const Digest& d : *attached) {
    std::fprintf(ctx.log, "attached an SPDX document to %s (%s)\n", dst.String().c_str(),
                 d.str().c_str());
  }
  return Status::Ok();
}

}  // namespace

bool PushRetryable(const Status& st) {
  switch (st.code()) {
    case Code::kInvalidArgument:
    case Code::kUnsupported:
    case Code::kManifestInvalid:
    case Code::kUnauthorized:
    case Code::kDenied:
    case Code::kNameInvalid:
    case Code::kDigestInvalid:
    case Code::kSizeInvalid:
      return false;
    default:
      return true;
  }
}

Result<std::map<std::string, std::shared_ptr<const sign::PrivateKey>>> LoadSigningKeys(
    const UpFile& file) {
  std::map<std::string, std::shared_ptr<const sign::PrivateKey>> by_path, by_image;
  for (const ImageSpec& spec : file.images) {
    const std::string& given = spec.sign.empty() ? file.sign : spec.sign;
    if (given.empty()) continue;
    const std::string path = ResolvePath(file.base_dir, given);
    if (!by_path.count(path)) {
      Result<sign::PrivateKey> k = sign::LoadPrivateKey(path);
      if (!k.ok()) return Status(k.status().code(), "sign: " + k.status().message());
      by_path[path] = std::make_shared<const sign::PrivateKey>(std::move(*k));
    }
    by_image[spec.name] = by_path[path];
  }
  return by_image;
}

Result<PushOutcome> RegistryPusher::Push(ProducedImage& image, const std::string& reference,
                                         Context& ctx) {
  Result<Reference> dst = Reference::Parse(reference);
  if (!dst.ok()) return dst.status();
  Result<transfer::Manifest> top = image.source->TopManifest();
  if (!top.ok()) return top.status();
  std::shared_ptr<RegistryClient> client = ctx.places->Client(dst->domain());
  PushOutcome out;
  out.digest = top->digest.str();
  // The tag already names this image: write nothing.
  Result<std::optional<ManifestHead>> head = client->HeadManifest(dst->path(), dst->tag());
  if (head.ok() && head->has_value() && (*head)->digest && *(*head)->digest == top->digest) {
    std::fprintf(ctx.log, "%s already names %s: nothing to push\n", reference.c_str(),
                 out.digest.c_str());
    out.unchanged = true;
    HOIST_RETURN_IF_ERROR(AttachSbom(image, *client, *dst, ctx));
    HOIST_RETURN_IF_ERROR(SignPushed(*client, *dst, top->digest, ctx));
    return out;
  }
  transfer::RemoteSink sink(client, *dst);
  std::unique_ptr<transfer::Progress> progress =
      transfer::MakeProgress(transfer::ProgressMode::kPlain, ctx.log, ctx.log);
  transfer::CopyOptions co;
  co.jobs = jobs_;
  co.progress = progress.get();
  Result<transfer::CopySummary> sum = transfer::Copy(*image.source, sink, co);
  progress.reset();
  if (!sum.ok()) return sum.status();
  out.digest = sum->top.digest.str();
  out.uploaded = sum->blobs_copied;
  out.skipped = sum->blobs_skipped;
  out.mounted = sum->blobs_mounted;
  out.bytes = sum->bytes_copied;
  HOIST_RETURN_IF_ERROR(AttachSbom(image, *client, *dst, ctx));
  HOIST_RETURN_IF_ERROR(SignPushed(*client, *dst, sum->top.digest, ctx));
  return out;
}

RunReport ImageRunner::Run() {
  const std::vector<ImageSpec>& images = file_.images;
  for (const ImageSpec& spec : images) {
    SaveImage(spec.name, [&](ImageRecord& r) {
      r = ImageRecord{};
      r.name = spec.name;
      r.kind = spec.kind;
      r.reference = spec.FinalReference(settings_.registry);
      r.log = paths::ImageLog(file_.base_dir, spec.name);
    });
    Emit("pending", spec, spec.FinalReference(settings_.registry),
         {{"reference", spec.FinalReference(settings_.registry)}});
  }
  std::vector<std::vector<int>> deps(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    for (const std::string& d : images[i].depends_on) deps[i].push_back(file_.Find(d));
  }
  std::vector<bool> ok = RunScheduled(
      deps, settings_.parallel, [this](int i) { return RunOne(i); },
      [this, &images](int i, int dep) {
        Fail(i, "not started: it depends on " + images[dep].name + ", which failed", Clock::now(),
             0, nullptr);
      });
  RunReport report;
  State snap = state_.Snapshot();
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageRecord* r = snap.Find(images[i].name);
    if (ok[i]) {
      report.pushed++;
      if (r != nullptr && r->unchanged) report.unchanged++;
    } else {
      report.failed++;
      report.failures.push_back(images[i].name + ": " + (r != nullptr ? r->error : "failed"));
    }
  }
  std::string msg = std::to_string(report.pushed) + " pushed (" + std::to_string(report.unchanged) +
                    " unchanged), " + std::to_string(report.failed) + " failed";
  for (const std::string& f : report.failures) msg += "\n  " + IndentLines(f, "    ");
  events_.Emit(Event{"summary",
                     "",
                     msg,
                     {{"pushed", report.pushed},
                      {"unchanged", report.unchanged},
                      {"failed", report.failed},
                      {"failures", report.failures}}});
  return report;
}

bool ImageRunner::RunOne(int i) {
  const ImageSpec& spec = file_.images[i];
  const std::string reference = spec.FinalReference(settings_.registry);
  Clock::time_point start = Clock::now();
  Context ctx;
  ctx.registry = settings_.registry;
  ctx.base_dir = file_.base_dir;
  ctx.work_dir = paths::WorkDir(file_.base_dir, spec.name);
  ctx.log_path = paths::ImageLog(file_.base_dir, spec.name);
  ctx.places = &places_;
  ctx.cancelled = settings_.cancelled;
  if (auto k = settings_.sign_keys.find(spec.name); k != settings_.sign_keys.end()) {
    ctx.sign_key = k->second.get();
  }
  ctx.sbom = spec.sbom.value_or(file_.sbom);
  if (settings_.timeout.count() > 0) ctx.deadline = start + settings_.timeout;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(OpenLog(ctx.log_path), &std::fclose);
  ctx.log = log.get();
  auto timed_out = [&] { return Clock::now() >= ctx.deadline; };
  const std::string timeout_msg =
      "timed out after " + FormatDuration(settings_.timeout) + " (build.timeout)";

  if (ctx.Cancelled())
    return Fail(i, "cancelled (interrupted before it started)", start, 0, ctx.log);
  BuildStrategy* strategy = strategies_.Find(spec.kind);
  if (strategy == nullptr)
    return Fail(i, "no strategy is registered for \"" + spec.kind + "\"", start, 0, ctx.log);
  ImageState active = strategy->ActiveState();
  SaveImage(spec.name, [&](ImageRecord& r) {
    r.state = active;
    r.started_at = Now();
  });
  std::string what = strategy->Describe(spec, ctx);
  Emit(std::string(StateName(active)), spec, what);
  std::fprintf(ctx.log, "== %s %s: %s\n", std::string(StateName(active)).c_str(), spec.name.c_str(),
               what.c_str());

  Result<ProducedImage> image = Status(Code::kInternal, "not produced");
  try {
    image = strategy->Produce(spec, ctx);
  } catch (const std::exception& e) {
    image = Status(Code::kInternal, std::string("internal error: ") + e.what());
  }
  double produce_seconds = SecondsSince(start);
  if (!image.ok()) return Fail(i, image.status().message(), start, produce_seconds, ctx.log);
  if (timed_out()) return Fail(i, timeout_msg, start, produce_seconds, ctx.log);

  SaveImage(spec.name, [&](ImageRecord& r) {
    r.state = ImageState::kPushing;
    r.detail = image->detail;
    r.produce_seconds = produce_seconds;
  });
  Emit("pushing", spec, "to " + reference, {{"reference", reference}});
  std::fprintf(ctx.log, "== pushing %s\n", reference.c_str());
  Clock::time_point push_start = Clock::now();
  PushOutcome outcome;
  Status st = Retry(
      settings_.retry,
      [&](int) -> Status {
        if (timed_out()) return Status(Code::kIo, timeout_msg);
        try {
          Result<PushOutcome> r = pusher_.Push(*image, reference, ctx);
          if (r.ok()) outcome = *r;
          return r.status();
        } catch (const std::exception& e) {
          return Status(Code::kInternal, std::string("internal error: ") + e.what());
        }
      },
      [&](const Status& s) { return PushRetryable(s) && !timed_out(); },
      [&](int n, Millis delay, const Status& why) {
        std::string m = "push attempt " + std::to_string(n + 1) + " of " +
                        std::to_string(settings_.retry.retries + 1) + " in " +
                        FormatDuration(delay) + ": " + why.message();
        std::fprintf(ctx.log, "%s\n", m.c_str());
        std::fflush(ctx.log);
        Emit("retry", spec, m, {{"attempt", n + 1}, {"delay_ms", delay.count()}});
      },
      settings_.sleep);
  double push_seconds = SecondsSince(push_start);
  if (!st.ok()) {
    return Fail(
        i, "push to " + reference + " failed: " + st.message() + " (log: " + ctx.log_path + ")",
        start, produce_seconds, ctx.log);
  }
  SaveImage(spec.name, [&](ImageRecord& r) {
    r.state = ImageState::kPushed;
    r.digest = outcome.digest;
    r.unchanged = outcome.unchanged;
    r.push_seconds = push_seconds;
    r.finished_at = Now();
  });
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2fs", SecondsSince(start));
  std::string msg = reference + "@" + outcome.digest + " (" + image->detail;
  if (!outcome.unchanged) {
    msg += "; " + std::to_string(outcome.uploaded) + " blob(s) uploaded, " +
           std::to_string(outcome.skipped + outcome.mounted) + " already there";
  }
  msg += ") in " + std::string(secs);
  std::fprintf(ctx.log, "== %s %s\n", outcome.unchanged ? "unchanged" : "pushed", msg.c_str());
  Emit(outcome.unchanged ? "unchanged" : "pushed", spec, msg,
       {{"reference", reference},
        {"digest", outcome.digest},
        {"uploaded", outcome.uploaded},
        {"skipped", outcome.skipped},
        {"mounted", outcome.mounted},
        {"bytes", outcome.bytes},
        {"seconds", SecondsSince(start)}});
  return true;
}

bool ImageRunner::Fail(int i, const std::string& error, Clock::time_point start,
                       double produce_seconds, std::FILE* log) {
  const ImageSpec& spec = file_.images[i];
  SaveImage(spec.name, [&](ImageRecord& r) {
    r.state = ImageState::kFailed;
    r.error = error;
    if (r.started_at.empty()) r.started_at = Now();
    r.finished_at = Now();
    r.produce_seconds = produce_seconds;
  });
  if (log != nullptr) {
    std::fprintf(log, "== failed: %s\n", error.c_str());
    std::fflush(log);
  } else if (std::FILE* f = OpenLog(paths::ImageLog(file_.base_dir, spec.name))) {
    std::fprintf(f, "== failed: %s\n", error.c_str());
    std::fclose(f);
  }
  Emit("failed", spec, error, {{"error", error}, {"seconds", SecondsSince(start)}});
  return false;
}

void ImageRunner::Emit(const std::string& kind, const ImageSpec& spec, const std::string& message,
                       nlohmann::json fields) {
  events_.Emit(Event{kind, spec.name, message, std::move(fields)});
}

void ImageRunner::SaveImage(const std::string& name, const std::function<void(ImageRecord&)>& fn) {
  Status st = state_.UpdateImage(name, fn);
  if (!st.ok()) {
    events_.Emit(Event{"warning", name, "cannot save the state: " + st.message()});
  }
}

}  // namespace hoist::up
