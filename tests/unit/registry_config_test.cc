// The registry configuration's value parsers (registry/config.h).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

#include "registry/config.h"

namespace hoist::registry {
namespace {

TEST_CASE("config: sizes in bytes and powers of 1024", "[config]") {
  CHECK(ParseSize("1073741824", "x").value() == int64_t{1} << 30);
  CHECK(ParseSize("512MiB", "x").value() == int64_t{512} << 20);
  CHECK(ParseSize("10GiB", "x").value() == int64_t{10} << 30);
  CHECK(ParseSize("10G", "x").value() == int64_t{10} << 30);
  CHECK(ParseSize("2TB", "x").value() == int64_t{2} << 40);
  CHECK(ParseSize("4K", "x").value() == 4096);
  for (const char* bad : {"", "GiB", "10X", "10Gb", "10GiBs", "-1", "1.5G", "99999999T"}) {
    INFO(bad);
    Result<int64_t> r = ParseSize(bad, "--s3-blob-cache-size");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("--s3-blob-cache-size") != std::string::npos);
  }
}

TEST_CASE("config: durations", "[config]") {
  CHECK(ParseDuration("30", "x").value() == 30000);
  CHECK(ParseDuration("1m30s", "x").value() == 90000);
  CHECK(ParseDuration("500ms", "x").value() == 500);
  CHECK_FALSE(ParseDuration("5 s", "x").ok());
  CHECK_FALSE(ParseDuration("5d", "x").ok());
}

TEST_CASE("config: the scan section", "[config]") {
  char dir[] = "/tmp/hoist-config-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/config.yml";
  auto load = [&](const std::string& text, Config* c) {
    FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return LoadConfigFile(path, c);
  };
  Config c;
  CHECK(c.scan_db.empty());
  CHECK(c.scan_interval_ms == 3600000);
  REQUIRE(load("scan:\n  db: /srv/osv\n  interval: 15m\n", &c).ok());
  CHECK(c.scan_db == "/srv/osv");
  CHECK(c.scan_interval_ms == 900000);
  Config bad;
  Status st = load("scan:\n  feed: /srv/osv\n", &bad);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("feed") != std::string::npos);
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace hoist::registry
