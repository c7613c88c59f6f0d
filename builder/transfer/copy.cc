#include "builder/transfer/copy.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "builder/transfer/verify.h"

namespace hoist::transfer {
namespace {

Progress& NullProgress() {
  static Progress p;
  return p;
}

// What a copy will write, gathered before anything is written.
struct Plan {
  std::vector<Descriptor> layers;
  std::vector<Descriptor> configs;
  std::vector<Manifest> children;  // child manifests, written before the top
  std::set<std::string> seen;      // blob digests already planned
};

class Copier {
 public:
  Copier(ImageSource& src, ImageSink& dst, const CopyOptions& o)
      : src_(src), dst_(dst), opts_(o), progress_(o.progress ? *o.progress : NullProgress()) {}

  Result<CopySummary> Run() {
    auto t0 = std::chrono::steady_clock::now();
    progress_.Started(src_.Name(), dst_.Name());
    Result<Manifest> top = src_.TopManifest();
    if (!top.ok()) return Fail(top.status());
    if (top->is_index() && (opts_.platform || !dst_.SupportsIndex())) {
      Result<ManifestContents> c = ParseManifest(*top);
      if (!c.ok()) return Fail(c.status());
      Platform want = opts_.platform ? *opts_.platform : Platform::Host();
      if (!opts_.platform) {
        progress_.Note(dst_.Name() + " holds one image: taking " + want.String() +
                       " from the index");
      }
      Result<Descriptor> d = SelectPlatform(*top, *c, want);
      if (!d.ok()) return Fail(d.status());
      top = src_.ChildManifest(*d);
      if (!top.ok()) return Fail(top.status());
    }
    Plan plan;
    // A destination that has the top manifest has all it references.
    Result<bool> have_top = dst_.HasManifest(top->descriptor());
    if (!have_top.ok()) return Fail(have_top.status());
    if (!*have_top) HOIST_RETURN_IF_ERROR(Fail(Walk(*top, &plan, /*is_top=*/true)));

    HOIST_RETURN_IF_ERROR(Fail(TransferAll(plan.layers)));
    HOIST_RETURN_IF_ERROR(Fail(TransferAll(plan.configs)));
    for (const Manifest& m : plan.children) {
      HOIST_RETURN_IF_ERROR(Fail(dst_.PutManifest(m, false)));
      progress_.ManifestWritten(m, false);
    }
    HOIST_RETURN_IF_ERROR(Fail(dst_.PutManifest(*top, true)));
    progress_.ManifestWritten(*top, true);
    HOIST_RETURN_IF_ERROR(Fail(dst_.Commit()));
    summary_.top = std::move(*top);
    summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress_.Finished(summary_);
    return summary_;
  }

 private:
  Status Fail(Status st) {
    if (!st.ok()) progress_.Failed(st);
    return st;
  }

  // Plans `m` and, for an index, the children the destination lacks.
  Status Walk(const Manifest& m, Plan* plan, bool is_top, int depth = 0) {
    if (depth > 4)
      return Status(Code::kManifestInvalid, "indexes nested too deep at " + m.digest.str());
    Result<ManifestContents> c = ParseManifest(m);
    if (!c.ok()) return c.status();
    for (const Descriptor& child : c->children) {
      Result<bool> have = dst_.HasManifest(child);
      if (!have.ok()) return have.status();
      if (*have) continue;
      Result<Manifest> cm = src_.ChildManifest(child);
      if (!cm.ok()) return cm.status();
      if (!(cm->digest == child.digest)) {
        return Status(Code::kDigestInvalid, "manifest " + child.digest.str() + " from " +
                                                src_.Name() + " has digest " + cm->digest.str());
      }
      HOIST_RETURN_IF_ERROR(Walk(*cm, plan, false, depth + 1));
      plan->children.push_back(std::move(*cm));
    }
    for (const Descriptor& l : c->layers) {
      if (!l.foreign && plan->seen.insert(l.digest.str()).second) plan->layers.push_back(l);
    }
    if (c->config && plan->seen.insert(c->config->digest.str()).second) {
      plan->configs.push_back(*c->config);
    }
    (void)is_top;
    return Status::Ok();
  }

  Status Transfer(const Descriptor& d) {
    progress_.BlobStarted(d);
    Result<bool> have = dst_.HasBlob(d);
    if (!have.ok()) return have.status();
    if (*have) {
      Count(d, BlobOutcome::kSkipped);
      return Status::Ok();
    }
    Result<bool> mounted = dst_.TryMount(d, src_);
    if (mounted.ok() && *mounted) {
      Count(d, BlobOutcome::kMounted);
      return Status::Ok();
    }
    int opened = 0;
    std::atomic<int64_t> bytes{0};
    BlobOpener open = [&]() -> Result<std::unique_ptr<ByteSource>> {
      if (opened++ > 0) {
        progress_.BlobRestarted(d);
        bytes = 0;
      }
      Result<std::unique_ptr<ByteSource>> raw = src_.OpenBlob(d);
      if (!raw.ok()) return raw.status();
      return std::unique_ptr<ByteSource>(new VerifyingReader(
          std::move(*raw), d, src_.Name(),
          [&](int64_t n) {
            bytes += n;
            progress_.BlobBytes(d, n);
          },
          &cancel_));
    };
    Status st = dst_.PutBlob(d, open);
    if (!st.ok()) return st;
    {
      std::lock_guard<std::mutex> lock(mu_);
      summary_.bytes_copied += bytes.load();
    }
    Count(d, BlobOutcome::kCopied);
    return Status::Ok();
  }

  void Count(const Descriptor& d, BlobOutcome o) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (o == BlobOutcome::kCopied) ++summary_.blobs_copied;
      if (o == BlobOutcome::kSkipped) ++summary_.blobs_skipped;
      if (o == BlobOutcome::kMounted) ++summary_.blobs_mounted;
    }
    progress_.BlobFinished(d, o);
  }

  // Transfers `blobs`, at most opts_.jobs at a time; the first failure
  // cancels the rest and is returned.
  Status TransferAll(const std::vector<Descriptor>& blobs) {
    if (blobs.empty()) return Status::Ok();
    std::atomic<size_t> next{0};
    Status first;
    auto worker = [&]() {
      while (!cancel_.load()) {
        size_t i = next++;
        if (i >= blobs.size()) return;
        Status st = Transfer(blobs[i]);
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu_);
          if (first.ok()) first = st;
          cancel_ = true;
        }
      }
    };
    size_t n = std::min<size_t>(std::max(opts_.jobs, 1), blobs.size());
    std::vector<std::thread> threads;
    for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();
    return first;
  }

  ImageSource& src_;
  ImageSink& dst_;
  const CopyOptions& opts_;
  Progress& progress_;
  std::mutex mu_;
  std::atomic<bool> cancel_{false};
  CopySummary summary_;
};

}  // namespace

Result<CopySummary> Copy(ImageSource& src, ImageSink& dst, const CopyOptions& options) {
  Copier c(src, dst, options);
  return c.Run();
}

}  // namespace hoist::transfer
