#include "builder/engine/url_source.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>

#include "builder/engine/tree_util.h"
#include "common/http_client.h"

namespace hoist::engine {
namespace {

// The response body as a ByteSource, for SaveStream.
class BodySource : public ByteSource {
 public:
  explicit BodySource(http_client::Response& r) : r_(r) {}
  Result<size_t> Read(char* buf, size_t n) override { return r_.Read(buf, n); }

 private:
  http_client::Response& r_;
};

std::mutex& CacheMutex() {
  static std::mutex mu;
  return mu;
}
// (work_dir, url, algorithm) -> the download made by this process.
std::map<std::string, Download>& Cache() {
  static auto* cache = new std::map<std::string, Download>();
  return *cache;
}

}  // namespace

bool IsHttpUrl(std::string_view s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

std::string UrlFileName(std::string_view url) {
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  size_t slash = rest.find('/');
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  path = path.substr(0, path.find_first_of("?#"));
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  size_t last = path.rfind('/');
  std::string_view base = last == std::string_view::npos ? path : path.substr(last + 1);
  if (base.empty() || base == "." || base == "..") return "__unnamed__";
  return std::string(base);
}

std::optional<int64_t> ParseHttpDate(std::string_view date) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::string s(date);
  char wday[4] = {}, mon[4] = {}, zone[4] = {};
  int day = 0, year = 0, h = 0, m = 0, sec = 0;
  if (std::sscanf(s.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", wday, &day, mon, &year, &h, &m, &sec,
                  zone) != 8 ||
      std::strcmp(zone, "GMT") != 0) {
    return std::nullopt;
  }
  struct tm tm {};
  tm.tm_mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::strcmp(mon, kMonths[i]) == 0) tm.tm_mon = i;
  }
  if (tm.tm_mon < 0 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60) return std::nullopt;
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return static_cast<int64_t>(::timegm(&tm));
}

Result<Download> FetchUrl(const std::string& url, const std::string& work_dir,
                          const std::optional<Digest>& checksum) {
  DigestAlgorithm alg = checksum ? checksum->algorithm() : DigestAlgorithm::kSha256;
  std::string key = work_dir + "\n" + url + "\n" + std::string(AlgorithmName(alg));
  std::optional<Download> done;
  {
    std::lock_guard<std::mutex> lock(CacheMutex());
    auto it = Cache().find(key);
    struct stat st {};
    if (it != Cache().end() && ::stat(it->second.path.c_str(), &st) == 0) done = it->second;
  }
  if (!done) {
    if (work_dir.empty()) {
      return Status(Code::kInvalidArgument, "ADD " + url + ": no work directory for downloads");
    }
    http_client::Transport transport{http_client::TransportOptions{}};
    http_client::Request req;
    req.url = url;
    req.follow_redirects = true;
    Result<std::unique_ptr<http_client::Response>> resp = transport.Start(req);
    if (!resp.ok()) {
      return Status(resp.status().code(), "fetching " + url + ": " + resp.status().message());
    }
    if ((*resp)->status() != 200) {
      return Status(Code::kInvalidArgument, "fetching " + url + ": invalid response status " +
                                                std::to_string((*resp)->status()));
    }
    Result<std::string> dir = MakeTempDir(work_dir, "url-");
    if (!dir.ok()) return dir.status();
    Download d;
    d.path = *dir + "/content";
    BodySource body(**resp);
    Result<std::pair<Digest, uint64_t>> saved = SaveStream(body, d.path, alg);
    if (!saved.ok()) {
      return Status(saved.status().code(), "fetching " + url + ": " + saved.status().message());
    }
    d.digest = saved->first;
    d.size = saved->second;
    if (const std::string* lm = (*resp)->Header("last-modified"))
      d.last_modified = ParseHttpDate(*lm);
    std::lock_guard<std::mutex> lock(CacheMutex());
    Cache()[key] = d;
    done = d;
  }
  if (checksum && !(done->digest == *checksum)) {
    return Status(Code::kDigestInvalid, "ADD " + url + ": digest mismatch: got " +
                                            done->digest.str() + ", --checksum says " +
                                            checksum->str());
  }
  return *done;
}

}  // namespace hoist::engine
