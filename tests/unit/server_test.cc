#include "registry/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "registry/storage/driver.h"

namespace hoist::http {
namespace {

TEST_CASE("IEquals compares ASCII case-insensitively", "[http]") {
  CHECK(IEquals("Content-Length", "content-length"));
  CHECK(IEquals("", ""));
  CHECK_FALSE(IEquals("Content-Length", "Content-Lengt"));
  CHECK_FALSE(IEquals("a", "b"));
  CHECK_FALSE(IEquals("[", "{"));  // only letters fold
}

TEST_CASE("PercentDecode decodes escapes and keeps broken ones", "[http]") {
  CHECK(PercentDecode("a%2Fb%2fc", false) == "a/b/c");
  CHECK(PercentDecode("%41", false) == "A");
  CHECK(PercentDecode("x%4", false) == "x%4");
  CHECK(PercentDecode("%zz%", false) == "%zz%");
  CHECK(PercentDecode("%00", false) == std::string(1, '\0'));
}

TEST_CASE("PercentDecode turns '+' into a space only when asked", "[http]") {
  CHECK(PercentDecode("a+b", false) == "a+b");
  CHECK(PercentDecode("a+b", true) == "a b");
  CHECK(PercentDecode("a%2Bb", true) == "a+b");
}

TEST_CASE("PercentEncode keeps path characters and escapes the rest", "[http]") {
  CHECK(PercentEncode("library/ubuntu:sha256-x_y.z~") == "library/ubuntu:sha256-x_y.z~");
  CHECK(PercentEncode("a b&c=d?") == "a%20b%26c%3Dd%3F");
  CHECK(PercentEncode("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("PercentEncode then PercentDecode round trips", "[http]") {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  CHECK(PercentDecode(PercentEncode(all), false) == all);
  CHECK(PercentDecode(PercentEncode("a+b c"), true) == "a+b c");
}

TEST_CASE("Request looks up headers case-insensitively and queries exactly", "[http]") {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  r.query = {{"n", "10"}, {"tag", "a"}, {"tag", "b"}};
  REQUIRE(r.Header("content-type") != nullptr);
  CHECK(*r.Header("content-type") == "application/json");
  CHECK(*r.Header("X-a") == "1");
  CHECK(r.Header("Accept") == nullptr);
  CHECK(r.Query("n") == "10");
  CHECK_FALSE(r.Query("N").has_value());
  CHECK(r.QueryAll("tag") == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(r.HasBody());
  r.content_length = 3;
  CHECK(r.HasBody());
}

}  // namespace
}  // namespace hoist::http

namespace hoist::http {
namespace {

// One GET over a fresh connection; returns everything after the head.
std::string FetchBody(const std::string& addr, std::string* head) {
  size_t colon = addr.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(addr.substr(colon + 1))));
  REQUIRE(::inet_pton(AF_INET, addr.substr(0, colon).c_str(), &sa.sin_addr) == 1);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  std::string req = "GET /blob HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
  std::string all;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) all.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t end = all.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  *head = all.substr(0, end);
  return all.substr(end + 4);
}

TEST_CASE("Streamed file bodies arrive whole by sendfile and through the buffer", "[http]") {
  bool use_sendfile = GENERATE(false, true);
  std::string dir = (std::filesystem::temp_directory_path() / "hoist-server-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  std::unique_ptr<storage::StorageDriver> d = storage::NewFilesystemDriver(dir);
  // 3 MiB and a bit, so that the buffer goes round several times; sent from
  // an offset, as for a Range request.
  std::string data(3 * 1024 * 1024 + 4321, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 5);
  REQUIRE(d->PutContent("/blob", data).ok());
  const int64_t offset = 1000;

  ServerOptions opt;
  opt.access_log = false;
  opt.sendfile_to_loopback = use_sendfile;
  Server server(
      [&](Request&, Response& resp) {
        auto r = d->Reader("/blob", offset);
        if (!r.ok()) {
          resp.status = 500;
          return;
        }
        resp.stream_fd = (*r)->fd();
        resp.stream = std::move(*r);
        resp.stream_length = static_cast<int64_t>(data.size()) - offset;
      },
      opt);
  REQUIRE(server.Listen("127.0.0.1", 0).ok());
  std::thread runner([&server] { server.Run(); });
  std::string head;
  std::string body = FetchBody(server.BoundAddress(), &head);
  server.Shutdown();
  runner.join();
  std::filesystem::remove_all(dir);

  CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(head.find("Content-Length: " + std::to_string(data.size() - offset)) != std::string::npos);
  REQUIRE(body.size() == data.size() - offset);
  CHECK(body == data.substr(offset));
}

}  // namespace
}  // namespace hoist::http
