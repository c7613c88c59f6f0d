#include "builder/layer/read_ahead.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace hoist::layer {

ReadAheadSource::ReadAheadSource(ByteSource* in, size_t chunk_size, size_t chunks)
    : in_(in), chunk_size_(std::max<size_t>(chunk_size, 1)), chunks_(std::max<size_t>(chunks, 1)) {
  worker_ = std::thread([this] { Work(); });
}

ReadAheadSource::~ReadAheadSource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void ReadAheadSource::Work() {
  while (true) {
    std::vector<char> chunk(chunk_size_);
    Result<size_t> n = in_->Read(chunk.data(), chunk.size());
    std::unique_lock<std::mutex> lock(mu_);
    if (!n.ok() || *n == 0) {
      if (!n.ok()) error_ = n.status();
      done_ = true;
      cv_.notify_all();
      return;
    }
    chunk.resize(*n);
    cv_.wait(lock, [&] { return stop_ || ready_.size() < chunks_; });
    if (stop_) return;
    ready_.push_back(std::move(chunk));
    cv_.notify_all();
  }
}

Result<size_t> ReadAheadSource::Read(char* buf, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || done_; });
  if (ready_.empty()) {
    if (!error_.ok()) return error_;
    return size_t{0};
  }
  std::vector<char>& front = ready_.front();
  size_t take = std::min(n, front.size() - offset_);
  std::memcpy(buf, front.data() + offset_, take);
  offset_ += take;
  if (offset_ == front.size()) {
    ready_.pop_front();
    offset_ = 0;
    cv_.notify_all();
  }
  return take;
}

}  // namespace hoist::layer
