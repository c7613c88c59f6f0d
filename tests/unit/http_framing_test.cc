// The registry's HTTP front on raw bytes (RFC 9112): each request below is
// sent as it is over a socket to a real Server, and the test checks the
// exact status and that no second response follows: the refusals that
// close request smuggling, the framing that must work, slow heads (408),
// oversized heads (414, 431), and the per-client connection limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "registry/http/server.h"

namespace hoist::http {
namespace {

using namespace std::string_literals;  // "...\0..."s keeps the NUL

// Answers "METHOD PATH BODY-BYTES".
void Echo(Request& req, Response& resp) {
  std::string body;
  char buf[4096];
  while (true) {
    Result<size_t> n = req.body().Read(buf, sizeof buf);
    if (!n.ok()) {
      resp.status = 400;
      return;
    }
    if (*n == 0) break;
    body.append(buf, *n);
  }
  resp.status = 200;
  resp.body = req.method + " " + req.path + " " + std::to_string(body.size()) + ":" + body;
}

struct Running {
  explicit Running(ServerOptions opt = {})
      : server(Echo, [&] {
          opt.access_log = false;
          return opt;
        }()) {
    REQUIRE(server.Listen("127.0.0.1", 0).ok());
    port = std::stoi(server.BoundAddress().substr(server.BoundAddress().rfind(':') + 1));
    thread = std::thread([this] { server.Run(); });
  }
  ~Running() {
    server.Shutdown();
    thread.join();
  }
  int Connect(const char* from = nullptr) const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (from != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from, &local.sin_addr);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    timeval tv{15, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  // Sends `raw`, half-closes, reads until the server closes.
  std::string Exchange(const std::string& raw) const {
    int fd = Connect();
    REQUIRE(::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size()));
    ::shutdown(fd, SHUT_WR);
    std::string out = ReadAll(fd);
    ::close(fd);
    return out;
  }
  static std::string ReadAll(int fd) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  Server server;
  std::thread thread;
  int port = 0;
};

int CountResponses(const std::string& out) {
  int n = 0;
  for (size_t at = out.find("HTTP/1.1 "); at != std::string::npos;
       at = out.find("HTTP/1.1 ", at + 1)) {
    ++n;
  }
  return n;
}

TEST_CASE("http framing: refusals, each with one response and no smuggled second", "[http]") {
  Running r;
  struct Case {
    const char* name;
    std::string raw;
    int status;
  };
  const std::string next = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  std::vector<Case> cases = {
      {"whitespace before the colon",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length : " + std::to_string(next.size()) +
           "\r\n\r\n" + next,
       400},
      {"two different Content-Length",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab" + next,
       400},
      {"Content-Length: +0", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: +0\r\n\r\n" + next,
       400},
      {"Content-Length: -1", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n" + next,
       400},
      {"Content-Length: 1x", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n" + next,
       400},
      {"Content-Length list of different values",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd" + next, 400},
      {"chunked, identity",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" +
           next,
       501},
      {"xchunked",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + next, 501},
      {"gzip, chunked",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + next,
       501},
      {"Content-Length with chunked",
       "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n" +
           next,
       400},
      {"no Host in HTTP/1.1", "GET /a HTTP/1.1\r\n\r\n" + next, 400},
      {"NUL in a field value",
       "GET /a HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"s + next, 400},
      {"control character in a field value",
       "GET /a HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n" + next, 400},
      {"space in a field name", "GET /a HTTP/1.1\r\nHost: h\r\nX Y: 1\r\n\r\n" + next, 400},
      {"bad request line", "GET  /a HTTP/1.1\r\nHost: h\r\n\r\n" + next, 400},
      {"HTTP/2 preface as HTTP/1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + next, 400},
      {"absolute-form target", "GET http://h/a HTTP/1.1\r\nHost: h\r\n\r\n" + next, 400},
      {"bad chunk size",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n" +
           next,
       400},
      {"chunk without its CRLF",
       "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
       "chunked\r\n\r\n2\r\nabXX1\r\na\r\n0\r\n\r\n" +
           next,
       400},
      {"request line too long", "GET /" + std::string(70000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",
       414},
      {"fields too large",
       "GET /a HTTP/1.1\r\nHost: h\r\nX: " + std::string(70000, 'a') + "\r\n\r\n", 431},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::string out = r.Exchange(c.raw);
    CHECK(out.rfind("HTTP/1.1 " + std::to_string(c.status) + " ", 0) == 0);
    CHECK(CountResponses(out) == 1);
    CHECK(out.find("/smuggled") == std::string::npos);
  }
}

TEST_CASE("http framing: what must work still works", "[http]") {
  Running r;
  // Length and chunked bodies (chunk extensions, trailers), pipelined.
  std::string out = r.Exchange(
      "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2;x=y\r\nde\r\n1\r\nf\r\n0\r\nTrailer: 1\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  CHECK(CountResponses(out) == 3);
  CHECK(out.find("POST /a 3:abc") != std::string::npos);
  CHECK(out.find("POST /b 3:def") != std::string::npos);
  CHECK(out.find("GET /c 0:") != std::string::npos);
  // RFC 9112 allows these two either way; Beast accepts them, and the
  // framing stays unambiguous: a list of one length repeated (section 6.3)
  // and obsolete line folding read as a space (section 5.2).
  out = r.Exchange(
      "POST /g HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\n\r\nhi"
      "GET /h HTTP/1.1\r\nHost: h\r\nX: 1\r\n 2\r\nConnection: close\r\n\r\n");
  CHECK(CountResponses(out) == 2);
  CHECK(out.find("POST /g 2:hi") != std::string::npos);
  CHECK(out.find("GET /h 0:") != std::string::npos);
  // HTTP/1.0 needs no Host; chunked transfer coding names are case-blind.
  CHECK(r.Exchange("GET /d HTTP/1.0\r\n\r\n").find("GET /d 0:") != std::string::npos);
  CHECK(r.Exchange(
             "POST /e HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n")
            .find("POST /e 1:z") != std::string::npos);
  // Expect: 100-continue gets its interim response before the body.
  out = r.Exchange(
      "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
  CHECK(out.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ", 0) == 0);
}

TEST_CASE("http framing: a head not complete in time gets 408", "[http]") {
  ServerOptions opt;
  opt.head_timeout_sec = 1;
  Running r(opt);
  int fd = r.Connect();
  std::string part = "GET /slow HTTP/1.1\r\nHost: h\r\n";
  REQUIRE(::send(fd, part.data(), part.size(), MSG_NOSIGNAL) > 0);
  auto start = std::chrono::steady_clock::now();
  std::string out = Running::ReadAll(fd);  // the rest never comes
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  CHECK(out.rfind("HTTP/1.1 408 ", 0) == 0);
  CHECK(secs < 5);
  // A prompt client on another connection meanwhile is fine.
  CHECK(r.Exchange("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n").find("GET /ok 0:") != std::string::npos);
}

TEST_CASE("http framing: connections per client address are bounded", "[http]") {
  ServerOptions opt;
  opt.max_connections_per_client = 3;
  Running r(opt);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(r.Connect("127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int extra = r.Connect("127.0.0.2");
  std::string out = Running::ReadAll(extra);
  ::close(extra);
  CHECK(out.rfind("HTTP/1.1 503 ", 0) == 0);
  // Another address is not affected.
  CHECK(r.Exchange("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n").find("GET /ok 0:") != std::string::npos);
  for (int fd : held) ::close(fd);
}

}  // namespace
}  // namespace hoist::http
