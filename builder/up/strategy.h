// BuildStrategy: how one declared image of `hoist up` is produced
// (DESIGN.md, "The seams"). A strategy turns an ImageSpec into an image
// source (transfer/source.h); the orchestrator (runner.h) then pushes it
// to the registry with retries, the same way whatever produced it.
//
// Strategies are found by the key of the block that declares the image
// (config.h: "dockerfile", "source", "command") in a StrategyTable, so a
// new strategy is a new class, a row in DefaultStrategies() and a block
// parser in config.cc; the orchestrator is not touched.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "builder/sign/keys.h"
#include "builder/transfer/place.h"
#include "builder/transfer/source.h"
#include "builder/up/config.h"
#include "builder/up/state.h"
#include "common/status.h"

namespace hoist::up {

// What a strategy may use while it produces one image.
struct Context {
  std::string registry;                // host:port of the registry being filled
  std::string base_dir;                // the file's directory: relative paths start here
  std::string work_dir;                // this image's scratch directory (may not exist yet)
  std::string log_path;                // the image's log file
  std::FILE* log = nullptr;            // the same, open for appending; never null
  transfer::Places* places = nullptr;  // registry clients, shared by all jobs
  // When the image's time is up (build.timeout); max() when there is none.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // True once the run is interrupted (Ctrl-C); strategies that can stop
  // early do. May be null.
  std::function<bool()> cancelled;
  // The key this image is signed with once pushed; null: not signed.
  const sign::PrivateKey* sign_key = nullptr;
  // True: attach an SPDX document to the image once pushed.
  bool sbom = false;

  bool Cancelled() const { return cancelled && cancelled(); }
};

// An image ready to be pushed.
struct ProducedImage {
  std::unique_ptr<transfer::ImageSource> source;
  std::string detail;  // a short report for the event ("2 steps run, 3 cached")
};

// A strategy's error: `what` failed, why, and the log to read.
// A multi-line message (a Dockerfile diagnostic) gets the log on a line of
// its own.
inline Status StrategyError(const Status& st, const std::string& what, const Context& ctx) {
  bool lines = st.message().find('\n') != std::string::npos;
  return Status(st.code(),
                what + ": " + st.message() + (lines ? "\n" : " ") + "(log: " + ctx.log_path + ")");
}

class BuildStrategy {
 public:
  virtual ~BuildStrategy() = default;
  // The image's state while this strategy works: kBuilding or kImporting.
  virtual ImageState ActiveState() const = 0;
  // What will be produced from where, for the event ("examples/app/Dockerfile").
  virtual std::string Describe(const ImageSpec& spec, const Context& ctx) const = 0;
  // Produces the image. Errors say what failed and why; details go to
  // ctx.log. Called from the orchestrator's worker threads, for several
  // images at once: implementations are safe for concurrent use.
  virtual Result<ProducedImage> Produce(const ImageSpec& spec, Context& ctx) = 0;
};

class StrategyTable {
 public:
  StrategyTable() = default;
  StrategyTable(StrategyTable&&) = default;
  StrategyTable& operator=(StrategyTable&&) = default;

  void Register(const std::string& kind, std::unique_ptr<BuildStrategy> s) {
    table_[kind] = std::move(s);
  }
  // Null when no strategy is registered under `kind`.
  BuildStrategy* Find(const std::string& kind) const {
    auto it = table_.find(kind);
    return it == table_.end() ? nullptr : it->second.get();
  }

 private:
  std::map<std::string, std::unique_ptr<BuildStrategy>> table_;
};

// The strategies of the file format (strategies.cc): dockerfile (the build
// engine), source (ImportStrategy), command (CommandStrategy).
StrategyTable DefaultStrategies();

}  // namespace hoist::up
