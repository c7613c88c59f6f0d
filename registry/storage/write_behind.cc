#include "registry/storage/write_behind.h"

namespace hoist::storage {

WriteBehind::WriteBehind(FileWriter& out, size_t buffers, size_t size)
    : out_(out), max_buffers_(buffers < 2 ? 2 : buffers), size_(size) {
  buffers_.reserve(max_buffers_);
}

WriteBehind::~WriteBehind() {
  (void)Drain();
}

std::span<char> WriteBehind::Next() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return !free_.empty() || buffers_.size() < max_buffers_; });
  if (free_.empty()) {
    buffers_.emplace_back(size_);
    current_ = buffers_.size() - 1;
  } else {
    current_ = free_.back();
    free_.pop_back();
  }
  return {buffers_[current_].data(), size_};
}

Status WriteBehind::Queue(size_t n) {
  bool first = !any_queued_;
  if (n > 0) any_queued_ = true;
  if (n == 0 || first) {
    Status s = n == 0 ? Status::Ok() : out_.Write(buffers_[current_].data(), n);
    std::lock_guard<std::mutex> l(mu_);
    if (error_.ok()) error_ = s;
    free_.push_back(current_);
    return error_;
  }
  if (!writer_.joinable()) writer_ = std::thread([this] { Run(); });
  std::lock_guard<std::mutex> l(mu_);
  pending_.emplace_back(current_, n);
  cv_.notify_all();
  return error_;
}

Status WriteBehind::Drain() {
  {
    std::lock_guard<std::mutex> l(mu_);
    closing_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  std::lock_guard<std::mutex> l(mu_);
  return error_;
}

void WriteBehind::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return !pending_.empty() || closing_; });
    if (pending_.empty()) return;
    auto [buffer, n] = pending_.front();
    pending_.pop_front();
    const char* data = buffers_[buffer].data();
    bool ok = error_.ok();
    l.unlock();
    Status s = ok ? out_.Write(data, n) : Status::Ok();
    l.lock();
    if (error_.ok()) error_ = s;
    free_.push_back(buffer);
    cv_.notify_all();
  }
}

}  // namespace hoist::storage
