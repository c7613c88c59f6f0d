// The image jobs of `hoist up`: for every declared image, its strategy
// (strategy.h) produces it and a Pusher puts it into the registry under its
// final reference, with retries and backoff. At most build.parallel jobs
// run at once, each after its depends_on were pushed (scheduler.h); a
// failing image never stops the others. Every change is an event
// (events.h) and is saved in the state (state.h); each image writes its
// own log file (paths.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "builder/transfer/place.h"
#include "builder/up/config.h"
#include "builder/up/events.h"
#include "builder/up/retry.h"
#include "builder/up/state.h"
#include "builder/up/strategy.h"

namespace hoist::up {

struct PushOutcome {
  std::string digest;      // the manifest now under the reference
  bool unchanged = false;  // it was already there: nothing was written
  int uploaded = 0, skipped = 0, mounted = 0;
  int64_t bytes = 0;
};

class Pusher {
 public:
  virtual ~Pusher() = default;
  // Puts `image` into the registry under `reference`. Safe for concurrent
  // use; may be called again for the same image after a failure.
  virtual Result<PushOutcome> Push(ProducedImage& image, const std::string& reference,
                                   Context& ctx) = 0;
};

// transfer::Copy into the registry (blobs it has are skipped after a HEAD).
// When the tag already names the image's digest nothing is written and the
// outcome is `unchanged`.
class RegistryPusher : public Pusher {
 public:
  explicit RegistryPusher(int jobs = 4) : jobs_(jobs) {}
  Result<PushOutcome> Push(ProducedImage& image, const std::string& reference,
                           Context& ctx) override;

 private:
  int jobs_;
};

// The private keys the file's images are signed with (`sign:`), by image
// name, each file read once (and its passphrase asked once).
Result<std::map<std::string, std::shared_ptr<const sign::PrivateKey>>> LoadSigningKeys(
    const UpFile& file);

// False for errors another try cannot cure (bad input, auth, invalid content).
bool PushRetryable(const Status& st);

struct RunSettings {
  std::string registry;  // host:port
  // Signing keys by image name (LoadSigningKeys); images not named are
  // not signed.
  std::map<std::string, std::shared_ptr<const sign::PrivateKey>> sign_keys;
  int parallel = 3;
  RetryPolicy retry;
  Millis timeout{0};  // per image; 0 = none
  Sleeper sleep = RealSleep;
  // True once the run is interrupted: jobs not yet started fail as
  // "cancelled". May be null.
  std::function<bool()> cancelled;
};

struct RunReport {
  int pushed = 0;  // includes the unchanged ones
  int unchanged = 0;
  int failed = 0;
  std::vector<std::string> failures;  // "name: reason"
};

class ImageRunner {
 public:
  // Everything passed must outlive the runner.
  ImageRunner(const UpFile& file, const StrategyTable& strategies, Pusher& pusher,
              EventSink& events, StateStore& state, transfer::Places& places, RunSettings settings)
      : file_(file),
        strategies_(strategies),
        pusher_(pusher),
        events_(events),
        state_(state),
        places_(places),
        settings_(std::move(settings)) {}
  ImageRunner(const ImageRunner&) = delete;
  ImageRunner& operator=(const ImageRunner&) = delete;

  // Runs every image job and emits the summary event. Call once.
  RunReport Run();

 private:
  bool RunOne(int i);
  // Marks image i failed with `error`, writes it to `log` (null: the
  // image's log file), emits the event, returns false.
  bool Fail(int i, const std::string& error, Clock::time_point start, double produce_seconds,
            std::FILE* log);
  void Emit(const std::string& kind, const ImageSpec& spec, const std::string& message,
            nlohmann::json fields = nlohmann::json::object());
  void SaveImage(const std::string& name, const std::function<void(ImageRecord&)>& fn);

  const UpFile& file_;
  const StrategyTable& strategies_;
  Pusher& pusher_;
  EventSink& events_;
  StateStore& state_;
  transfer::Places& places_;
  const RunSettings settings_;
};

}  // namespace hoist::up
