#include "registry/storage/write_behind.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "registry/storage/driver.h"

namespace hoist::storage {
namespace {

// Records what reaches it; can be slow, or fail at one write.
class RecordingWriter : public FileWriter {
 public:
  Status Write(const char* data, size_t n) override {
    ++writes;
    threads.insert(std::this_thread::get_id());
    addresses.insert(data);
    if (writes == fail_at) return Status(Code::kIo, "disk full");
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    bytes.append(data, n);
    return Status::Ok();
  }
  int64_t Size() const override { return static_cast<int64_t>(bytes.size()); }
  Status Commit() override { return Status::Ok(); }
  void Cancel() override {}

  std::string bytes;
  int writes = 0;
  int fail_at = -1;
  int delay_ms = 0;
  std::set<std::thread::id> threads;
  std::set<const char*> addresses;
};

// Fills buffers of `size` with a counting pattern until `total` bytes.
std::string Feed(WriteBehind& wb, size_t size, size_t total, Status* last) {
  std::string sent;
  while (sent.size() < total) {
    std::span<char> buf = wb.Next();
    REQUIRE(buf.size() == size);
    size_t n = std::min(size, total - sent.size());
    for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>('a' + (sent.size() + i) % 26);
    sent.append(buf.data(), n);
    *last = wb.Queue(n);
    if (!last->ok()) break;
  }
  return sent;
}

TEST_CASE("WriteBehind: bytes reach the writer in order, from another thread", "[write_behind]") {
  RecordingWriter out;
  out.delay_ms = 1;
  Status last;
  std::string sent;
  {
    WriteBehind wb(out, 3, 1000);
    sent = Feed(wb, 1000, 25'500, &last);
    REQUIRE(last.ok());
    REQUIRE(wb.Drain().ok());
  }
  CHECK(out.bytes == sent);
  CHECK(out.writes == 26);
  CHECK(out.threads.size() == 2);    // the first buffer in line, the rest behind
  CHECK(out.addresses.size() <= 3);  // memory bounded by the buffers
}

TEST_CASE("WriteBehind: a body that fits in the first buffer is written in line",
          "[write_behind]") {
  size_t total = GENERATE(size_t{5000}, size_t{1} << 20);
  RecordingWriter out;
  WriteBehind wb(out, 4, 1 << 20);
  Status last;
  std::string sent = Feed(wb, 1 << 20, total, &last);
  REQUIRE(last.ok());
  CHECK(out.bytes == sent);  // already written when Queue returned
  (void)wb.Next();           // the end of the body: one buffer serves again
  REQUIRE(wb.Queue(0).ok());
  REQUIRE(wb.Drain().ok());
  CHECK(out.threads == std::set<std::thread::id>{std::this_thread::get_id()});
  CHECK(out.addresses.size() == 1);
}

TEST_CASE("WriteBehind: an empty buffer is given back, not written", "[write_behind]") {
  RecordingWriter out;
  WriteBehind wb(out, 2, 64);
  for (int i = 0; i < 10; ++i) {
    (void)wb.Next();
    REQUIRE(wb.Queue(0).ok());
  }
  REQUIRE(wb.Drain().ok());
  CHECK(out.writes == 0);
}

TEST_CASE("WriteBehind: the first write error is returned and later buffers are dropped",
          "[write_behind]") {
  RecordingWriter out;
  out.fail_at = 2;
  WriteBehind wb(out, 2, 100);
  Status last;
  (void)Feed(wb, 100, 10'000, &last);
  Status drained = wb.Drain();
  REQUIRE_FALSE(drained.ok());
  CHECK(drained.code() == Code::kIo);
  CHECK(drained.message().find("disk full") != std::string::npos);
  CHECK(out.bytes.size() == 100);  // only the first buffer
}

TEST_CASE("WriteBehind: the filesystem driver's file holds every byte", "[write_behind]") {
  std::string dir = (std::filesystem::temp_directory_path() / "hoist-wb-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  std::unique_ptr<StorageDriver> d = NewFilesystemDriver(dir);
  auto w = d->Writer("/up/data", false);
  REQUIRE(w.ok());
  Status last;
  std::string sent;
  {
    WriteBehind wb(**w, 4, 4096);
    sent = Feed(wb, 4096, 1'000'003, &last);
    REQUIRE(last.ok());
    REQUIRE(wb.Drain().ok());
  }
  REQUIRE((*w)->Commit().ok());
  auto got = d->GetContent("/up/data");
  REQUIRE(got.ok());
  CHECK(*got == sent);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hoist::storage
