#include "common/registry_client.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/log.h"
#include "common/reference.h"

namespace hoist {
namespace {

using nlohmann::json;

constexpr size_t kMaxManifestBytes = 8 << 20;
constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxListBody = 16 << 20;

const char* const kManifestAccept =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string PullScope(const std::string& repo) {
  return "repository:" + repo + ":pull";
}
std::string PushScope(const std::string& repo) {
  return "repository:" + repo + ":pull,push";
}

// The media type without parameters ("; charset=utf-8").
std::string BareMediaType(const std::string* content_type) {
  if (content_type == nullptr) return {};
  std::string t = content_type->substr(0, content_type->find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

bool IsRetryableStatus(int s) {
  return s == 408 || s == 429 || (s >= 500 && s <= 599 && s != 501);
}

// Retry-After: delay-seconds or an HTTP-date (RFC 9110, 10.2.3); -1 when absent.
int RetryAfterMs(const http_client::Response& resp) {
  const std::string* h = resp.Header("retry-after");
  if (h == nullptr || h->empty()) return -1;
  if (std::all_of(h->begin(), h->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return static_cast<int>(std::min<long>(std::atol(h->c_str()), 3600) * 1000);
  }
  std::tm tm{};
  if (strptime(h->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return -1;
  long delta = static_cast<long>(timegm(&tm) - std::time(nullptr));
  return static_cast<int>(std::clamp<long>(delta, 0, 3600) * 1000);
}

Code CodeFromName(const std::string& name) {
  for (int c = static_cast<int>(Code::kBlobUnknown); c <= static_cast<int>(Code::kTooManyRequests);
       ++c) {
    if (InfoFor(static_cast<Code>(c)).name == name) return static_cast<Code>(c);
  }
  return Code::kInternal;
}

Code CodeFromStatus(int s) {
  switch (s) {
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kDenied;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kUnsupported;
    case 416:
      return Code::kRangeInvalid;
    case 429:
      return Code::kTooManyRequests;
    default:
      return s >= 500 ? Code::kIo : Code::kInvalidArgument;
  }
}

// Parses `key="value", key2=value2` auth-params.
std::map<std::string, std::string> ParseAuthParams(std::string_view s) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(s.substr(i, eq - i));
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    i = eq + 1;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value += s[i++];
      }
      ++i;
    } else {
      while (i < s.size() && s[i] != ',') value += s[i++];
    }
    out[key] = value;
  }
  return out;
}

// Resolves an upload Location against the base URL.
std::string ResolveLocation(const std::string& base, const std::string& loc) {
  if (loc.rfind("http://", 0) == 0 || loc.rfind("https://", 0) == 0) return loc;
  if (!loc.empty() && loc.front() == '/') return base + loc;
  return base + "/" + loc;
}

std::string WithQuery(const std::string& url, const std::string& kv) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

// The rel="next" target of a Link header, or empty.
std::string NextLink(const http_client::Response& resp) {
  const std::string* link = resp.Header("link");
  if (link == nullptr || link->find("rel=\"next\"") == std::string::npos) return {};
  size_t open = link->find('<'), close = link->find('>');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  return link->substr(open + 1, close - open - 1);
}

}  // namespace

bool IsRetryable(const Status& st) {
  return st.code() == Code::kIo || st.code() == Code::kTooManyRequests;
}

RegistryClient::RegistryClient(std::string domain, RegistryClientOptions options)
    : domain_(std::move(domain)), options_(std::move(options)), transport_(options_.transport) {}

std::string RegistryClient::base_url() {
  std::lock_guard<std::mutex> lock(mu_);
  return base_url_;
}

std::optional<Credential> RegistryClient::Credentials() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!creds_loaded_) {
    creds_loaded_ = true;
    if (options_.credential) {
      creds_ = options_.credential;
    } else {
      Result<Credential> c = CredentialStore(options_.docker_config).Get(domain_);
      if (!c.ok()) {
        log::Warn("ignoring stored credentials",
                  {{"registry", domain_}, {"error", c.status().message()}});
      } else if (!c->empty()) {
        creds_ = *c;
      }
    }
  }
  return creds_;
}

void RegistryClient::Backoff(int attempt, int retry_after_ms, const std::string& why) {
  int delay;
  if (retry_after_ms >= 0) {
    delay = std::min(retry_after_ms, options_.backoff_max_ms * 6);
  } else {
    int64_t d = int64_t{options_.backoff_base_ms} << std::min(attempt - 1, 20);
    d = std::min<int64_t>(d, options_.backoff_max_ms);
    thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<int64_t> jitter(d / 2, std::max<int64_t>(d, 1));
    delay = static_cast<int>(jitter(rng));
  }
  std::string msg = why + "; retrying in " + std::to_string(delay) + " ms (attempt " +
                    std::to_string(attempt + 1) + " of " + std::to_string(options_.attempts) + ")";
  log::Debug("retry", {{"registry", domain_}, {"reason", msg}});
  if (options_.on_retry) options_.on_retry(msg);
  std::this_thread::sleep_for(std::chrono::milliseconds(delay));
}

void RegistryClient::ParseChallenge(const std::string* header) {
  std::lock_guard<std::mutex> lock(mu_);
  if (header == nullptr) return;
  std::string_view h = *header;
  size_t sp = h.find(' ');
  std::string scheme(h.substr(0, sp));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (scheme == "bearer") {
    auto params = ParseAuthParams(sp == std::string_view::npos ? "" : h.substr(sp + 1));
    scheme_ = Scheme::kBearer;
    realm_ = params["realm"];
    service_ = params["service"];
  } else if (scheme == "basic") {
    scheme_ = Scheme::kBasic;
  }
}

Status RegistryClient::EnsurePinged() {
  std::lock_guard<std::mutex> lock(ping_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pinged_) return Status::Ok();
  }
  return PingLocked();
}

Status RegistryClient::Ping(bool check_credentials) {
  {
    std::lock_guard<std::mutex> lock(ping_mu_);
    HOIST_RETURN_IF_ERROR(PingLocked());
  }
  if (!check_credentials) return Status::Ok();
  Scheme scheme;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheme = scheme_;
  }
  if (scheme == Scheme::kBearer) return FetchToken({}).status();
  if (scheme == Scheme::kBasic) {
    http_client::Request req;
    req.url = "/v2/";
    Result<std::unique_ptr<http_client::Response>> resp = Send(req, {});
    if (!resp.ok()) return resp.status();
    if ((*resp)->status() != 200) return HttpError(**resp, "GET", "/v2/");
  }
  return Status::Ok();
}

// REQUIRES: ping_mu_ held.
Status RegistryClient::PingLocked() {
  const std::string host = RegistryApiHost(domain_);
  std::vector<std::string> schemes;
  bool plain = std::find(options_.plain_http_hosts.begin(), options_.plain_http_hosts.end(),
                         domain_) != options_.plain_http_hosts.end();
  if (plain) {
    schemes = {"http"};
  } else if (IsLoopbackHost(domain_)) {
    // Local registries mostly speak plain HTTP; a TLS one answers that
    // with 400 and is then reached over HTTPS.
    schemes = {"http", "https"};
  } else {
    schemes = {"https"};
  }
  Status first_error;
  for (int attempt = 1;; ++attempt) {
    first_error = Status::Ok();
    Status https_error;  // reported in preference to the HTTP fallback's
    Status busy;         // a retryable HTTP status, preferred over both
    bool retry = false;
    for (const std::string& scheme : schemes) {
      http_client::Request req;
      req.url = scheme + "://" + host + "/v2/";
      Result<std::unique_ptr<http_client::Response>> resp = transport_.Start(req);
      if (!resp.ok()) {
        if (first_error.ok()) first_error = resp.status();
        if (scheme == "https") https_error = resp.status();
        retry = retry || IsRetryable(resp.status());
        continue;
      }
      int s = (*resp)->status();
      if (IsRetryableStatus(s)) {
        busy = HttpError(**resp, "GET", "/v2/");
        retry = true;
        continue;
      }
      if (s != 200 && s != 401) {
        // (An HTTPS server answers plain HTTP with 400: then the HTTPS
        // error is the one worth reporting.)
        if (first_error.ok()) {
          first_error = Status(Code::kInvalidArgument,
                               "GET " + req.url + ": HTTP " + std::to_string(s) + ": " + domain_ +
                                   " does not answer as a registry (distribution API v2)");
        }
        (*resp)->Drain();
        continue;
      }
      if (s == 401) ParseChallenge((*resp)->Header("www-authenticate"));
      (*resp)->Drain();
      std::lock_guard<std::mutex> lock(mu_);
      base_url_ = scheme + "://" + host;
      pinged_ = true;
      return Status::Ok();
    }
    if (!https_error.ok()) first_error = https_error;
    if (!busy.ok()) first_error = busy;
    if (!retry || attempt >= options_.attempts) break;
    Backoff(attempt, -1, first_error.message());
  }
  return Status(first_error.code(),
                "cannot reach registry " + domain_ + ": " + first_error.message());
}

Result<RegistryClient::Token> RegistryClient::FetchToken(const std::vector<std::string>& scopes) {
  std::string realm, service;
  {
    std::lock_guard<std::mutex> lock(mu_);
    realm = realm_;
    service = service_;
  }
  if (realm.empty()) {
    return Status(Code::kUnauthorized, domain_ + " asks for a Bearer token but names no realm");
  }
  std::optional<Credential> cred = Credentials();
  std::string url = realm;
  if (!service.empty()) url = WithQuery(url, "service=" + http_client::UrlEncode(service));
  for (const std::string& s : scopes) url = WithQuery(url, "scope=" + http_client::UrlEncode(s));
  http_client::Request req;
  req.url = url;
  if (cred && cred->username != "<token>") {
    url = WithQuery(url, "account=" + http_client::UrlEncode(cred->username));
    req.url = url;
    req.headers.push_back("Authorization: Basic " +
                          Base64Encode(cred->username + ":" + cred->password));
  }
  std::string where = "token server " + realm.substr(0, realm.find('?'));
  for (int attempt = 1;; ++attempt) {
    Result<std::unique_ptr<http_client::Response>> resp = transport_.Start(req);
    Status failure;
    if (!resp.ok()) {
      failure = resp.status();
    } else if (IsRetryableStatus((*resp)->status())) {
      failure = HttpError(**resp, "GET", where);
    } else if ((*resp)->status() == 401 || (*resp)->status() == 403) {
      (*resp)->Drain();
      return Status(
          Code::kUnauthorized,
          cred ? "authentication to " + domain_ + " failed: " + where + " answered HTTP " +
                     std::to_string((*resp)->status()) + " (wrong username or password?)"
               : domain_ + " requires authentication (" + where + " answered HTTP " +
                     std::to_string((*resp)->status()) + "): run `hoist login " + domain_ + "`");
    } else if ((*resp)->status() != 200) {
      return HttpError(**resp, "GET", where);
    } else {
      Result<std::string> body = (*resp)->ReadAll(1 << 20);
      if (!body.ok()) {
        failure = body.status();
      } else {
        json j = json::parse(*body, nullptr, false);
        std::string token;
        if (j.is_object()) {
          if (j.contains("token") && j["token"].is_string()) token = j["token"];
          if (token.empty() && j.contains("access_token") && j["access_token"].is_string())
            token = j["access_token"];
        }
        if (token.empty()) {
          return Status(Code::kUnauthorized, where + " answered without a token");
        }
        int64_t expires_in = 60;
        if (j.contains("expires_in") && j["expires_in"].is_number_integer())
          expires_in = std::max<int64_t>(j["expires_in"].get<int64_t>(), 1);
        int64_t margin = std::min<int64_t>(10, expires_in / 2);
        return Token{token, NowMs() + (expires_in - margin) * 1000};
      }
    }
    if (!IsRetryable(failure) || attempt >= options_.attempts) {
      return Status(failure.code(), "getting a token for " + domain_ + ": " + failure.message());
    }
    Backoff(attempt, resp.ok() ? RetryAfterMs(**resp) : -1, failure.message());
  }
}

void RegistryClient::ForgetToken(const std::vector<std::string>&) {
  // The scopes a request asked for may have been widened (PreferPushScope);
  // tokens are cheap to fetch again, so forget them all.
  std::lock_guard<std::mutex> lock(mu_);
  tokens_.clear();
}

void RegistryClient::PreferPushScope(const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  push_repos_.insert(repo);
}

Result<std::string> RegistryClient::AuthHeader(const std::vector<std::string>& requested) {
  std::vector<std::string> scopes = requested;
  Scheme scheme;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheme = scheme_;
  }
  if (scheme == Scheme::kNone) return std::string();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::string& s : scopes) {
      const std::string suffix = ":pull";
      if (s.size() > suffix.size() &&
          s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          push_repos_.count(s.substr(11, s.size() - 11 - suffix.size())) > 0) {
        s += ",push";  // "repository:<repo>:pull" -> ":pull,push"
      }
    }
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  }
  if (scheme == Scheme::kBasic) {
    std::optional<Credential> cred = Credentials();
    if (!cred) return std::string();
    return "Authorization: Basic " + Base64Encode(cred->username + ":" + cred->password);
  }
  const std::string key = Join(scopes, ' ');
  auto cached = [&]() -> std::string {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(key);
    if (it != tokens_.end() && it->second.expires_ms > NowMs()) return it->second.value;
    return {};
  };
  if (std::string t = cached(); !t.empty()) return "Authorization: Bearer " + t;
  std::lock_guard<std::mutex> fetch_lock(token_fetch_mu_);
  if (std::string t = cached(); !t.empty()) return "Authorization: Bearer " + t;
  Result<Token> token = FetchToken(scopes);
  if (!token.ok()) return token.status();
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[key] = *token;
  return "Authorization: Bearer " + token->value;
}

Result<std::unique_ptr<http_client::Response>> RegistryClient::Send(
    http_client::Request req, const std::vector<std::string>& scopes, bool replayable) {
  HOIST_RETURN_IF_ERROR(EnsurePinged());
  if (req.url.rfind("http", 0) != 0) req.url = base_url() + req.url;
  const std::vector<std::string> base_headers = req.headers;
  bool reauthorized = false;
  for (int attempt = 1;; ++attempt) {
    req.headers = base_headers;
    Result<std::string> auth = AuthHeader(scopes);
    if (!auth.ok()) return auth.status();
    if (!auth->empty()) req.headers.push_back(*auth);
    Result<std::unique_ptr<http_client::Response>> resp = transport_.Start(req);
    if (!resp.ok()) {
      if (!replayable || !IsRetryable(resp.status()) || attempt >= options_.attempts) {
        if (attempt > 1) {
          return Status(resp.status().code(), resp.status().message() + " (after " +
                                                  std::to_string(attempt) + " attempts)");
        }
        return resp.status();
      }
      Backoff(attempt, -1, resp.status().message());
      continue;
    }
    int s = (*resp)->status();
    if (s == 401 && !reauthorized && replayable) {
      // A token that expired early, or a challenge that changed: once more.
      reauthorized = true;
      ParseChallenge((*resp)->Header("www-authenticate"));
      ForgetToken(scopes);
      (*resp)->Drain();
      --attempt;
      continue;
    }
    if (IsRetryableStatus(s) && replayable && attempt < options_.attempts) {
      int retry_after = RetryAfterMs(**resp);
      (*resp)->Drain();
      Backoff(attempt, retry_after, req.method + " " + req.url + ": HTTP " + std::to_string(s));
      continue;
    }
    return resp;
  }
}

Status RegistryClient::HttpError(http_client::Response& resp, const std::string& method,
                                 const std::string& what) {
  int s = resp.status();
  std::string msg = method + " " + what + " on " + domain_ + ": HTTP " + std::to_string(s);
  Code code = CodeFromStatus(s);
  Result<std::string> body = resp.ReadAll(kMaxErrorBody);
  if (body.ok() && !body->empty()) {
    json j = json::parse(*body, nullptr, false);
    if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
        j["errors"][0].is_object()) {
      const json& e = j["errors"][0];
      std::string name = e.value("code", "");
      std::string text =
          e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
      if (!name.empty()) {
        msg += ": " + name;
        Code c = CodeFromName(name);
        if (c != Code::kInternal) code = c;
      }
      if (!text.empty()) msg += ": " + text.substr(0, 300);
    }
  }
  if (s == 401 && code == Code::kUnauthorized) {
    msg += " (not authorized; check `hoist login " + domain_ + "`)";
  }
  return Status(code, msg);
}

Result<RemoteManifest> RegistryClient::GetManifest(const std::string& repo,
                                                   const std::string& ref) {
  http_client::Request req;
  req.url = "/v2/" + repo + "/manifests/" + ref;
  req.headers.push_back(kManifestAccept);
  const std::string what = "manifest " + repo + ":" + ref;
  Result<std::unique_ptr<http_client::Response>> resp = Send(req, {PullScope(repo)});
  if (!resp.ok())
    return Status(resp.status().code(), "GET " + what + ": " + resp.status().message());
  http_client::Response& r = **resp;
  if (r.status() == 404) {
    Status st = HttpError(r, "GET", what);
    return Status(Code::kManifestUnknown, st.message());
  }
  if (r.status() != 200) return HttpError(r, "GET", what);
  Result<std::string> body = r.ReadAll(kMaxManifestBytes);
  if (!body.ok())
    return Status(body.status().code(), "GET " + what + ": " + body.status().message());
  RemoteManifest m;
  m.bytes = std::move(*body);
  m.media_type = BareMediaType(r.Header("content-type"));
  json j = json::parse(m.bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(Code::kManifestInvalid, what + " on " + domain_ + " is not JSON");
  }
  if (j.contains("mediaType") && j["mediaType"].is_string() &&
      (m.media_type.empty() || m.media_type == "application/json" ||
       m.media_type == "application/octet-stream" || m.media_type == "text/plain")) {
    m.media_type = j["mediaType"];
  }
  std::optional<Digest> expected;
  if (Result<Digest> d = Digest::Parse(ref); d.ok()) {
    expected = *d;
  } else if (const std::string* h = r.Header("docker-content-digest")) {
    if (Result<Digest> hd = Digest::Parse(*h); hd.ok()) expected = *hd;
  }
  m.digest = DigestOf(m.bytes, expected ? expected->algorithm() : DigestAlgorithm::kSha256);
  if (expected && !(*expected == m.digest)) {
    return Status(Code::kDigestInvalid, what + " on " + domain_ + ": content digest " +
                                            m.digest.str() + " does not match " + expected->str());
  }
  return m;
}

Result<std::optional<ManifestHead>> RegistryClient::HeadManifest(const std::string& repo,
                                                                 const std::string& ref) {
  http_client::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + repo + "/manifests/" + ref;
  req.headers.push_back(kManifestAccept);
  Result<std::unique_ptr<http_client::Response>> resp = Send(req, {PullScope(repo)});
  if (!resp.ok()) return resp.status();
  http_client::Response& r = **resp;
  if (r.status() == 404) return std::optional<ManifestHead>();
  if (r.status() != 200) return HttpError(r, "HEAD", "manifest " + repo + ":" + ref);
  ManifestHead head;
  head.media_type = BareMediaType(r.Header("content-type"));
  if (const std::string* d = r.Header("docker-content-digest")) {
    if (Result<Digest> p = Digest::Parse(*d); p.ok()) head.digest = *p;
  }
  if (const std::string* l = r.Header("content-length")) head.size = std::atoll(l->c_str());
  return std::optional<ManifestHead>(head);
}

Status RegistryClient::PutManifest(const std::string& repo, const std::string& ref,
                                   const std::string& media_type, const std::string& bytes) {
  http_client::Request req;
  req.method = "PUT";
  req.url = "/v2/" + repo + "/manifests/" + ref;
  req.headers.push_back("Content-Type: " + media_type);
  req.body = bytes;
  const std::string what = "manifest " + repo + ":" + ref;
  Result<std::unique_ptr<http_client::Response>> resp = Send(req, {PushScope(repo)});
  if (!resp.ok())
    return Status(resp.status().code(), "PUT " + what + ": " + resp.status().message());
  if ((*resp)->status() != 201 && (*resp)->status() != 200) return HttpError(**resp, "PUT", what);
  (*resp)->Drain();
  return Status::Ok();
}

Result<std::optional<std::string>> RegistryClient::Referrers(const std::string& repo,
                                                             const Digest& subject,
                                                             const std::string& artifact_type) {
  http_client::Request req;
  req.url = "/v2/" + repo + "/referrers/" + subject.str();
  if (!artifact_type.empty()) req.url += "?artifactType=" + http_client::UrlEncode(artifact_type);
  const std::string what = "referrers of " + repo + "@" + subject.str();
  Result<std::unique_ptr<http_client::Response>> resp = Send(req, {PullScope(repo)});
  if (!resp.ok())
    return Status(resp.status().code(), "GET " + what + ": " + resp.status().message());
  http_client::Response& r = **resp;
  if (r.status() == 404) {
    r.Drain();
    return std::optional<std::string>();
  }
  if (r.status() != 200) return HttpError(r, "GET", what);
  Result<std::string> body = r.ReadAll(kMaxManifestBytes);
  if (!body.ok())
    return Status(body.status().code(), "GET " + what + ": " + body.status().message());
  return std::optional<std::string>(std::move(*body));
}

Result<std::optional<int64_t>> RegistryClient::HeadBlob(const std::string& repo,
                                                        const Digest& digest) {
  http_client::Request req;
  req.method = "HEAD";
  req.url = "/v2/" + repo + "/blobs/" + digest.str();
  req.follow_redirects = true;
  Result<std::unique_ptr<http_client::Response>> resp = Send(req, {PullScope(repo)});
  if (!resp.ok()) return resp.status();
  http_client::Response& r = **resp;
  if (r.status() == 404) return std::optional<int64_t>();
  if (r.status() != 200) return HttpError(r, "HEAD", "blob " + digest.str() + " in " + repo);
  const std::string* l = r.Header("content-length");
  return std::optional<int64_t>(l != nullptr ? std::atoll(l->c_str()) : -1);
}

// A blob download that resumes with Range after a broken connection.
class RemoteBlobReader : public ByteSource {
 public:
  RemoteBlobReader(RegistryClient* c, std::string repo, Digest d, int64_t size)
      : client_(c), repo_(std::move(repo)), digest_(std::move(d)), size_(size) {}

  Status Open() {
    http_client::Request req;
    req.url = "/v2/" + repo_ + "/blobs/" + digest_.str();
    req.follow_redirects = true;
    if (offset_ > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset_) + "-");
    Result<std::unique_ptr<http_client::Response>> resp = client_->Send(req, {PullScope(repo_)});
    if (!resp.ok()) return Status(resp.status().code(), What() + ": " + resp.status().message());
    http_client::Response& r = **resp;
    if (r.status() == 404) {
      Status st = client_->HttpError(r, "GET", "blob " + digest_.str() + " in " + repo_);
      return Status(Code::kBlobUnknown, st.message());
    }
    if (r.status() != 200 && r.status() != 206) {
      return client_->HttpError(r, "GET", "blob " + digest_.str() + " in " + repo_);
    }
    int64_t skip = 0;
    if (offset_ > 0 && r.status() == 200) {
      skip = offset_;  // the server ignored Range: skip what we have
    } else if (r.status() == 206) {
      const std::string* cr = r.Header("content-range");
      long long start = -1;
      if (cr == nullptr || std::sscanf(cr->c_str(), "bytes %lld-", &start) != 1 ||
          start != offset_) {
        return Status(Code::kIo, What() + ": resumed at the wrong offset (Content-Range " +
                                     (cr ? *cr : std::string("missing")) + ")");
      }
    }
    resp_ = std::move(*resp);
    char junk[16384];
    while (skip > 0) {
      Result<size_t> got =
          resp_->Read(junk, static_cast<size_t>(std::min<int64_t>(skip, sizeof junk)));
      if (!got.ok()) return got.status();
      if (*got == 0) return Status(Code::kIo, What() + ": body ended while skipping");
      skip -= static_cast<int64_t>(*got);
    }
    return Status::Ok();
  }

  Result<size_t> Read(char* buf, size_t n) override {
    int failures = 0;
    int64_t offset_at_failure = -1;
    while (true) {
      Status st;
      if (!resp_) st = Open();
      if (st.ok()) {
        Result<size_t> got = resp_->Read(buf, n);
        if (got.ok()) {
          offset_ += static_cast<int64_t>(*got);
          return got;
        }
        st = got.status();
      }
      resp_.reset();
      if (offset_ != offset_at_failure) {  // progress since the last failure
        failures = 0;
        offset_at_failure = offset_;
      }
      ++failures;
      if (!IsRetryable(st) || failures >= client_->options_.attempts) {
        return Status(st.code(), st.message().find(digest_.str()) != std::string::npos
                                     ? st.message()
                                     : What() + ": " + st.message());
      }
      client_->Backoff(failures, -1,
                       What() + " broke at byte " + std::to_string(offset_) + ": " + st.message());
    }
  }

 private:
  std::string What() const {
    return "GET blob " + digest_.str() + " from " + client_->domain() + "/" + repo_;
  }

  RegistryClient* client_;
  std::string repo_;
  Digest digest_;
  int64_t size_;
  int64_t offset_ = 0;
  std::unique_ptr<http_client::Response> resp_;
};

Result<std::unique_ptr<ByteSource>> RegistryClient::OpenBlob(const std::string& repo,
                                                             const Digest& digest, int64_t size) {
  auto reader = std::make_unique<RemoteBlobReader>(this, repo, digest, size);
  HOIST_RETURN_IF_ERROR(reader->Open());
  return std::unique_ptr<ByteSource>(std::move(reader));
}

Result<bool> RegistryClient::MountBlob(const std::string& repo, const Digest& digest,
                                       const std::string& from_repo) {
  http_client::Request req;
  req.method = "POST";
  req.url = "/v2/" + repo + "/blobs/uploads/?mount=" + http_client::UrlEncode(digest.str()) +
            "&from=" + http_client::UrlEncode(from_repo);
  Result<std::unique_ptr<http_client::Response>> resp =
      Send(req, {PushScope(repo), PullScope(from_repo)});
  if (!resp.ok()) return resp.status();
  http_client::Response& r = **resp;
  if (r.status() == 201) {
    r.Drain();
    return true;
  }
  if (r.status() == 202) {  // not mounted: cancel the session it opened instead
    if (const std::string* loc = r.Header("location")) {
      http_client::Request del;
      del.method = "DELETE";
      del.url = ResolveLocation(base_url(), *loc);
      r.Drain();
      Result<std::unique_ptr<http_client::Response>> d = Send(del, {PushScope(repo)});
      if (d.ok()) (*d)->Drain();
    }
  }
  return false;
}

Status RegistryClient::PushBlob(const std::string& repo, const Digest& digest, int64_t size,
                                const StreamOpener& open) {
  const std::vector<std::string> scopes = {PushScope(repo)};
  const std::string what = "blob " + digest.str() + " to " + domain_ + "/" + repo;
  for (int attempt = 1;; ++attempt) {
    http_client::Request post;
    post.method = "POST";
    post.url = "/v2/" + repo + "/blobs/uploads/";
    Result<std::unique_ptr<http_client::Response>> started = Send(post, scopes);
    if (!started.ok())
      return Status(started.status().code(), "upload " + what + ": " + started.status().message());
    if ((*started)->status() != 202) return HttpError(**started, "POST", "upload of " + what);
    const std::string* loc = (*started)->Header("location");
    if (loc == nullptr) return Status(Code::kBlobUploadInvalid, "upload " + what + ": no Location");
    std::string location = ResolveLocation(base_url(), *loc);
    (*started)->Drain();

    Status failure;
    if (size > 0) {
      Result<std::unique_ptr<ByteSource>> src = open();
      if (!src.ok()) failure = src.status();
      if (failure.ok()) {
        http_client::Request patch;
        patch.method = "PATCH";
        patch.url = location;
        patch.headers.push_back("Content-Type: application/octet-stream");
        patch.body_source = src->get();
        patch.body_length = size;
        Result<std::unique_ptr<http_client::Response>> r =
            Send(patch, scopes, /*replayable=*/false);
        if (!r.ok()) {
          failure = r.status();
        } else if ((*r)->status() != 202 && (*r)->status() != 204) {
          failure = HttpError(**r, "PATCH", "upload of " + what);
        } else if (const std::string* next = (*r)->Header("location")) {
          location = ResolveLocation(base_url(), *next);
          (*r)->Drain();
        }
      }
    }
    if (failure.ok()) {
      http_client::Request put;
      put.method = "PUT";
      put.url = WithQuery(location, "digest=" + http_client::UrlEncode(digest.str()));
      Result<std::unique_ptr<http_client::Response>> r = Send(put, scopes);
      if (!r.ok()) {
        failure = r.status();
      } else if ((*r)->status() != 201 && (*r)->status() != 204) {
        failure = HttpError(**r, "PUT", "upload of " + what);
      } else {
        (*r)->Drain();
        return Status::Ok();
      }
    }
    // Cancel the session so the registry drops what it received.
    http_client::Request del;
    del.method = "DELETE";
    del.url = location;
    if (Result<std::unique_ptr<http_client::Response>> d = Send(del, scopes, false); d.ok())
      (*d)->Drain();
    if (!IsRetryable(failure) || attempt >= options_.attempts) {
      if (failure.message().find(digest.str()) != std::string::npos) return failure;
      return Status(failure.code(), "upload " + what + ": " + failure.message());
    }
    Backoff(attempt, -1, "upload " + what + ": " + failure.message());
  }
}

Result<std::vector<std::string>> RegistryClient::ListPages(std::string path,
                                                           const std::string& scope,
                                                           const char* key) {
  std::vector<std::string> out;
  for (int page = 0; page < 100000 && !path.empty(); ++page) {
    http_client::Request req;
    req.url = path;
    Result<std::unique_ptr<http_client::Response>> resp = Send(req, {scope});
    if (!resp.ok()) return resp.status();
    http_client::Response& r = **resp;
    if (r.status() != 200) return HttpError(r, "GET", path.substr(0, path.find('?')));
    Result<std::string> body = r.ReadAll(kMaxListBody);
    if (!body.ok()) return body.status();
    json j = json::parse(*body, nullptr, false);
    if (!j.is_object()) return Status(Code::kInvalidArgument, "GET " + path + ": not JSON");
    if (j.contains(key) && j[key].is_array()) {
      for (const json& v : j[key]) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
    path = NextLink(r);
  }
  return out;
}

Result<std::vector<std::string>> RegistryClient::ListTags(const std::string& repo) {
  Result<std::vector<std::string>> tags =
      ListPages("/v2/" + repo + "/tags/list?n=1000", PullScope(repo), "tags");
  if (!tags.ok() && tags.status().code() == Code::kNotFound) {
    return Status(Code::kNameUnknown, tags.status().message());
  }
  return tags;
}

Result<std::vector<std::string>> RegistryClient::Catalog() {
  return ListPages("/v2/_catalog?n=1000", "registry:catalog:*", "repositories");
}

}  // namespace hoist
