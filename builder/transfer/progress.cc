#include "builder/transfer/progress.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

namespace hoist::transfer {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* OutcomeWord(BlobOutcome o) {
  switch (o) {
    case BlobOutcome::kCopied:
      return "copied";
    case BlobOutcome::kSkipped:
      return "skipped";
    case BlobOutcome::kMounted:
      return "mounted";
  }
  return "copied";
}

void WriteLine(std::FILE* out, const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

std::string SummaryText(const CopySummary& s) {
  std::string t = "Wrote " + s.top.digest.str() + " (" + std::to_string(s.blobs_copied) +
                  " blobs copied, " + HumanBytes(s.bytes_copied);
  if (s.blobs_skipped > 0) t += ", " + std::to_string(s.blobs_skipped) + " already there";
  if (s.blobs_mounted > 0) t += ", " + std::to_string(s.blobs_mounted) + " mounted";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", s.seconds);
  return t + ", " + secs + " s)";
}

// One line per event, for logs and pipes.
class PlainProgress : public Progress {
 public:
  explicit PlainProgress(std::FILE* out) : out_(out) {}
  void Started(const std::string& from, const std::string& to) override {
    Line("Copying " + from + " to " + to);
  }
  void BlobStarted(const Descriptor& d) override {
    Line("Copying blob " + d.Short() + " (" + HumanBytes(d.size) + ")");
  }
  void BlobRestarted(const Descriptor& d) override { Line("Restarting blob " + d.Short()); }
  void BlobFinished(const Descriptor& d, BlobOutcome o) override {
    const char* what = o == BlobOutcome::kCopied    ? "done"
                       : o == BlobOutcome::kSkipped ? "already there"
                                                    : "mounted";
    Line("Blob " + d.Short() + " " + what);
  }
  void ManifestWritten(const Manifest& m, bool top) override {
    Line(std::string(top ? "Wrote manifest " : "Wrote child manifest ") +
         m.digest.str().substr(0, 19));
  }
  void Retrying(const std::string& reason) override { Line("Retrying: " + reason); }
  void Note(const std::string& m) override { Line(m); }
  void Finished(const CopySummary& s) override { Line(SummaryText(s)); }

 private:
  void Line(const std::string& s) {
    std::lock_guard<std::mutex> lock(mu_);
    WriteLine(out_, s + "\n");
  }
  std::FILE* out_;
  std::mutex mu_;
};

// JSON events, one object per line.
class JsonProgress : public Progress {
 public:
  explicit JsonProgress(std::FILE* out) : out_(out) {}
  void Started(const std::string& from, const std::string& to) override {
    Emit({{"event", "start"}, {"source", from}, {"destination", to}});
  }
  void BlobStarted(const Descriptor& d) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      blobs_[d.digest.str()] = {0, Clock::now()};
    }
    Emit({{"event", "blob"},
          {"status", "started"},
          {"digest", d.digest.str()},
          {"size", d.size},
          {"mediaType", d.media_type}});
  }
  void BlobBytes(const Descriptor& d, int64_t delta) override {
    int64_t now_bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& b = blobs_[d.digest.str()];
      b.bytes += delta;
      now_bytes = b.bytes;
      if (now_bytes < d.size && Clock::now() - b.last < std::chrono::milliseconds(500)) return;
      b.last = Clock::now();
    }
    Emit({{"event", "progress"},
          {"digest", d.digest.str()},
          {"bytes", now_bytes},
          {"size", d.size}});
  }
  void BlobRestarted(const Descriptor& d) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      blobs_[d.digest.str()].bytes = 0;
    }
    Emit(
        {{"event", "blob"}, {"status", "restarted"}, {"digest", d.digest.str()}, {"size", d.size}});
  }
  void BlobFinished(const Descriptor& d, BlobOutcome o) override {
    Emit({{"event", "blob"},
          {"status", OutcomeWord(o)},
          {"digest", d.digest.str()},
          {"size", d.size}});
  }
  void ManifestWritten(const Manifest& m, bool top) override {
    Emit({{"event", "manifest"},
          {"digest", m.digest.str()},
          {"mediaType", m.media_type},
          {"size", m.bytes.size()},
          {"top", top}});
  }
  void Retrying(const std::string& reason) override {
    Emit({{"event", "retry"}, {"reason", reason}});
  }
  void Note(const std::string& m) override { Emit({{"event", "note"}, {"message", m}}); }
  void Finished(const CopySummary& s) override {
    Emit({{"event", "done"},
          {"digest", s.top.digest.str()},
          {"mediaType", s.top.media_type},
          {"blobsCopied", s.blobs_copied},
          {"blobsSkipped", s.blobs_skipped},
          {"blobsMounted", s.blobs_mounted},
          {"bytesCopied", s.bytes_copied},
          {"seconds", s.seconds}});
  }
  void Failed(const Status& st) override {
    Emit({{"event", "error"},
          {"code", std::string(InfoFor(st.code()).name)},
          {"message", st.message()}});
  }

 private:
  struct BlobState {
    int64_t bytes = 0;
    Clock::time_point last;
  };
  void Emit(const json& j) {
    std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::lock_guard<std::mutex> lock(out_mu_);
    WriteLine(out_, line);
  }
  std::FILE* out_;
  std::mutex mu_, out_mu_;
  std::map<std::string, BlobState> blobs_;
};

// Bars for the blobs in flight, redrawn in place; finished blobs scroll up.
class BarProgress : public Progress {
 public:
  explicit BarProgress(std::FILE* out) : out_(out), thread_([this] { Loop(); }) {}
  ~BarProgress() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Started(const std::string& from, const std::string& to) override {
    Log("Copying " + from + " to " + to);
  }
  void BlobStarted(const Descriptor& d) override {
    std::lock_guard<std::mutex> lock(mu_);
    active_[d.digest.str()] = {d, 0};
    order_.push_back(d.digest.str());
    total_size_ += d.size;
  }
  void BlobBytes(const Descriptor& d, int64_t delta) override {
    std::lock_guard<std::mutex> lock(mu_);
    active_[d.digest.str()].bytes += delta;
    total_bytes_ += delta;
  }
  void BlobRestarted(const Descriptor& d) override {
    std::lock_guard<std::mutex> lock(mu_);
    total_bytes_ -= active_[d.digest.str()].bytes;
    active_[d.digest.str()].bytes = 0;
  }
  void BlobFinished(const Descriptor& d, BlobOutcome o) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = active_.find(d.digest.str());
    if (it != active_.end()) {
      total_bytes_ += d.size - it->second.bytes;
      active_.erase(it);
    }
    std::erase(order_, d.digest.str());
    const char* what = o == BlobOutcome::kCopied    ? "done"
                       : o == BlobOutcome::kSkipped ? "already there"
                                                    : "mounted";
    pending_.push_back("Blob " + d.Short() + " " + HumanBytes(d.size) + " " + what);
  }
  void ManifestWritten(const Manifest& m, bool top) override {
    Log(std::string(top ? "Wrote manifest " : "Wrote child manifest ") +
        m.digest.str().substr(0, 19));
  }
  void Retrying(const std::string& reason) override { Log("Retrying: " + reason); }
  void Note(const std::string& m) override { Log(m); }
  void Finished(const CopySummary& s) override { Log(SummaryText(s)); }
  void Failed(const Status&) override { Draw(true); }

 private:
  struct Active {
    Descriptor d;
    int64_t bytes = 0;
  };
  void Log(const std::string& line) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(line);
    }
    Draw(false);
  }
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      lock.unlock();
      Draw(false);
      lock.lock();
    }
    lock.unlock();
    Draw(true);
  }
  static std::string Bar(int64_t done, int64_t size) {
    const int width = 30;
    int fill = size > 0 ? static_cast<int>(width * std::min<int64_t>(done, size) / size) : width;
    return "[" + std::string(fill, '=') + (fill < width ? ">" : "") +
           std::string(std::max(width - fill - 1, 0), ' ') + "]";
  }
  void Draw(bool final_draw) {
    std::lock_guard<std::mutex> draw_lock(draw_mu_);
    std::string s;
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < drawn_; ++i) s += "\x1b[1A\x1b[2K";
    s += "\r";
    for (const std::string& p : pending_) s += "\x1b[2K" + p + "\n";
    pending_.clear();
    drawn_ = 0;
    if (!final_draw) {
      for (const std::string& key : order_) {
        const Active& a = active_[key];
        s += "\x1b[2K" + a.d.Short() + " " + Bar(a.bytes, a.d.size) + " " + HumanBytes(a.bytes) +
             " / " + HumanBytes(a.d.size) + "\n";
        ++drawn_;
      }
      if (total_size_ > 0) {
        s += "\x1b[2KTotal " + Bar(total_bytes_, total_size_) + " " + HumanBytes(total_bytes_) +
             " / " + HumanBytes(total_size_) + "\n";
        ++drawn_;
      }
    }
    WriteLine(out_, s);
  }

  std::FILE* out_;
  std::mutex mu_, draw_mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, Active> active_;
  std::vector<std::string> order_;
  std::vector<std::string> pending_;
  int64_t total_bytes_ = 0, total_size_ = 0;
  int drawn_ = 0;
  std::thread thread_;
};

}  // namespace

ProgressMode AutoMode(std::FILE* out) {
  return ::isatty(::fileno(out)) ? ProgressMode::kBars : ProgressMode::kPlain;
}

std::unique_ptr<Progress> MakeProgress(ProgressMode mode, std::FILE* text_out,
                                       std::FILE* json_out) {
  switch (mode) {
    case ProgressMode::kQuiet:
      return std::make_unique<Progress>();
    case ProgressMode::kPlain:
      return std::make_unique<PlainProgress>(text_out);
    case ProgressMode::kBars:
      return std::make_unique<BarProgress>(text_out);
    case ProgressMode::kJson:
      return std::make_unique<JsonProgress>(json_out);
  }
  return std::make_unique<Progress>();
}

std::string HumanBytes(int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace hoist::transfer
