#include "registry/api.h"

#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/media_types.h"
#include "common/names.h"
#include "registry/http/content_coding.h"
#include "registry/ui/assets.h"

namespace hoist::registry {

using json = nlohmann::json;
using http::Request;
using http::Response;

namespace {

constexpr int64_t kCatalogPageMax = 1000;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string BlobLocation(const std::string& name, const Digest& d) {
  return "/v2/" + name + "/blobs/" + d.str();
}

void SetJson(Response& resp, int status, std::string body,
             std::string_view type = "application/json") {
  resp.status = status;
  resp.Set("Content-Type", std::string(type));
  resp.body = std::move(body);
}

// Parses ?n= (absent: `fallback`). False when present but not a number.
bool ParsePageSize(const Request& req, int64_t fallback, int64_t* n) {
  std::optional<std::string> v = req.Query("n");
  *n = fallback;
  if (!v) return true;
  if (v->empty() || v->size() > 9 || v->find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *n = std::stoll(*v);
  return true;
}

// Cuts one page from sorted `all` after `last`, with an RFC 5988 Link to
// the next page (distribution-spec v1.1, "Listing Tags").
std::vector<std::string> Paginate(const std::vector<std::string>& all, const Request& req,
                                  int64_t n, const std::string& base, Response& resp) {
  std::optional<std::string> last = req.Query("last");
  auto it = all.begin();
  if (last) it = std::upper_bound(all.begin(), all.end(), *last);
  std::vector<std::string> page;
  if (n < 0) return std::vector<std::string>(it, all.end());
  while (it != all.end() && static_cast<int64_t>(page.size()) < n) page.push_back(*it++);
  if (it != all.end() && n > 0) {
    resp.Set("Link", "<" + base + "?last=" + http::PercentEncode(page.back()) +
                         "&n=" + std::to_string(n) + ">; rel=\"next\"");
  }
  return page;
}

// Single byte range of "bytes=a-b", "bytes=a-", "bytes=-n" within `size`.
// Returns false when unsatisfiable or malformed; *whole when it should be
// ignored (several ranges: the whole body is a valid answer).
bool ParseRange(std::string_view h, int64_t size, int64_t* start, int64_t* end, bool* whole) {
  *whole = false;
  if (h.rfind("bytes=", 0) != 0) return false;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) {
    *whole = true;
    return true;
  }
  size_t dash = h.find('-');
  if (dash == std::string_view::npos) return false;
  auto num = [](std::string_view s, int64_t* out) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != s.npos) return false;
    *out = std::stoll(std::string(s));
    return true;
  };
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {
    int64_t suffix;
    if (!num(b, &suffix) || suffix == 0 || size == 0) return false;
    *start = std::max<int64_t>(0, size - suffix);
    *end = size - 1;
    return true;
  }
  if (!num(a, start) || *start >= size) return false;
  if (b.empty()) {
    *end = size - 1;
  } else if (!num(b, end) || *end < *start) {
    return false;
  }
  *end = std::min(*end, size - 1);
  return true;
}

// Reads at most `limit` bytes of body; kManifestTooLarge beyond it.
Result<std::string> ReadSmallBody(Request& req, int64_t limit) {
  if (req.content_length > limit) {
    return Status(Code::kManifestTooLarge, "manifest of " + std::to_string(req.content_length) +
                                               " bytes exceeds the limit of " +
                                               std::to_string(limit));
  }
  std::string body;
  char buf[65536];
  while (true) {
    Result<size_t> n = req.body().Read(buf, sizeof buf);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    body.append(buf, *n);
    if (static_cast<int64_t>(body.size()) > limit) {
      return Status(Code::kManifestTooLarge,
                    "manifest exceeds the limit of " + std::to_string(limit) + " bytes");
    }
  }
  return body;
}

// A digest from the request (path or query). The spec answers 400 both for
// malformed digests and for unsupported algorithms ("Pushing blobs").
Result<Digest> ParseDigestParam(std::string_view s) {
  Result<Digest> d = Digest::Parse(s);
  if (!d.ok() && d.status().code() != Code::kDigestInvalid) {
    return Status(Code::kDigestInvalid, d.status().message());
  }
  return d;
}

// Media types listed in Accept headers (parameters dropped).
std::vector<std::string> AcceptedTypes(const Request& req) {
  std::vector<std::string> out;
  for (const auto& [k, v] : req.headers) {
    if (!http::IEquals(k, "Accept")) continue;
    std::string_view s = v;
    while (!s.empty()) {
      size_t comma = s.find(',');
      std::string_view item = s.substr(0, comma);
      item = item.substr(0, item.find(';'));
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

void WriteError(const Status& st, Response& resp) {
  const CodeInfo& info = InfoFor(st.code());
  // A server-side failure's message names storage paths and endpoints: it
  // goes to the log, the client gets the code's own words.
  bool ours = info.http_status >= 500;
  if (ours)
    log::Warn("request failed", {{"code", std::string(info.name)}, {"error", st.message()}});
  json err = {{"code", info.name},
              {"message", st.message().empty() || ours ? std::string(info.message) : st.message()}};
  if (!st.detail().empty()) {
    json d = json::parse(st.detail(), nullptr, false);
    if (!d.is_discarded()) err["detail"] = d;
  }
  resp.body.clear();
  resp.stream.reset();
  resp.stream_fd = -1;
  resp.head_length.reset();
  SetJson(resp, info.http_status, json{{"errors", json::array({err})}}.dump());
}

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kBase:
      return "base";
    case Route::kCatalog:
      return "catalog";
    case Route::kHealth:
      return "health";
    case Route::kTags:
      return "tags";
    case Route::kManifest:
      return "manifest";
    case Route::kBlob:
      return "blob";
    case Route::kUploadStart:
      return "upload_start";
    case Route::kUpload:
      return "upload";
    case Route::kReferrers:
      return "referrers";
    case Route::kMetrics:
      return "metrics";
    case Route::kToken:
      return "token";
    case Route::kUi:
      return "ui";
    case Route::kScan:
      return "scan";
    case Route::kNone:
      break;
  }
  return "other";
}

Target MatchRoute(std::string_view path) {
  Target t;
  if (path == "/metrics") {
    t.route = Route::kMetrics;
    return t;
  }
  if (path == "/token") {
    t.route = Route::kToken;
    return t;
  }
  if (path == "/ui" || path.rfind("/ui/", 0) == 0) {
    t.route = Route::kUi;
    t.ref = std::string(path.substr(std::min<size_t>(path.size(), 4)));
    return t;
  }
  if (path == "/healthz") {
    t.route = Route::kHealth;
    return t;
  }
  if (path == "/v2" || path == "/v2/") {
    t.route = Route::kBase;
    return t;
  }
  if (path == "/v2/_catalog") {
    t.route = Route::kCatalog;
    return t;
  }
  if (path.rfind("/v2/", 0) != 0) return t;
  std::string_view rest = path.substr(4);
  auto split_last = [&](std::string_view marker, Route r) {
    // "<name>/<marker>/<ref>": the reference is the last segment.
    size_t slash = rest.rfind('/');
    if (slash == std::string_view::npos) return false;
    std::string_view head = rest.substr(0, slash);
    if (!EndsWith(head, marker)) return false;
    std::string_view name = head.substr(0, head.size() - marker.size());
    if (name.empty() || name.back() != '/') return false;
    t.route = r;
    t.name = std::string(name.substr(0, name.size() - 1));
    t.ref = std::string(rest.substr(slash + 1));
    return true;
  };
  if (EndsWith(rest, "/tags/list")) {
    t.route = Route::kTags;
    t.name = std::string(rest.substr(0, rest.size() - 10));
    return t;
  }
  if (EndsWith(rest, "/blobs/uploads/") || EndsWith(rest, "/blobs/uploads")) {
    t.route = Route::kUploadStart;
    t.name = std::string(rest.substr(0, rest.rfind("/blobs/uploads")));
    return t;
  }
  if (split_last("blobs/uploads", Route::kUpload) || split_last("manifests", Route::kManifest) ||
      split_last("blobs", Route::kBlob) || split_last("referrers", Route::kReferrers) ||
      split_last("_hoist/scan", Route::kScan)) {
    if (t.ref.empty()) t.route = Route::kNone;
    return t;
  }
  return t;
}

Api::Api(const Config& config, storage::StorageDriver& driver, Gate gate)
    : config_(config),
      driver_(driver),
      gate_(std::move(gate)),
      blobs_(driver),
      uploads_(driver, blobs_),
      manifests_(driver, blobs_),
      metrics_(driver, config.version) {
  uploads_.SetMaxOpen(config.max_uploads);
  manifests_.SetReferencePolicy(config.reference_policy);
  if (config.gc_interval_ms > 0) blobs_.TrackUses();
}

Result<GcReport> Api::CollectGarbage(const GcOptions& options) {
  Result<GcReport> r = registry::CollectGarbage(driver_, blobs_, options, nullptr);
  if (r.ok()) metrics_.ObserveGc(*r);
  return r;
}

void Api::EnableScans(const std::string& feed_dir) {
  scanner_ = std::make_unique<Scanner>(manifests_, blobs_, feed_dir);
}

Status Api::RunScan() {
  return scanner_ ? scanner_->Run() : Status::Ok();
}

// GET /v2/<name>/_hoist/scan/<digest>: the last scan's findings for a
// manifest (an index: its images together), as JSON; 404 NOT_FOUND-style
// MANIFEST_UNKNOWN when it has none (not scanned yet, untagged, or scans
// are off).
void Api::ScanReport(const Target& t, Response& resp) {
  Result<Digest> d = Digest::Parse(t.ref);
  if (!d.ok()) return WriteError(d.status(), resp);
  std::optional<Scanner::Report> r = scanner_ ? scanner_->Find(t.name, *d) : std::nullopt;
  if (!r) {
    return WriteError(Status(Code::kManifestUnknown, scanner_ ? "no scan of this manifest yet"
                                                              : "scans are off (--scan-db)"),
                      resp);
  }
  json findings = json::array();
  for (const packages::Finding& f : r->findings) {
    findings.push_back(packages::FindingJson(f));
  }
  json out = {
      {"digest", d->str()}, {"os", r->os}, {"packages", r->packages}, {"findings", findings}};
  if (!r->error.empty()) out["error"] = r->error;
  SetJson(resp, 200, out.dump());
}

Status Api::EnableProxy(const ProxyOptions& options) {
  Result<std::unique_ptr<Proxy>> p = Proxy::Create(options, driver_, blobs_, manifests_, uploads_);
  if (!p.ok()) return p.status();
  proxy_ = std::move(*p);
  return Status::Ok();
}

namespace {
// An upstream's failure as the mirror's answer: the spec's errors as they
// are, anything else (unreachable, TLS, a refused blob) a 502.
void WriteUpstreamError(const Status& st, Response& resp) {
  WriteError(st, resp);
  if (InfoFor(st.code()).http_status == 500) resp.status = 502;
}
}  // namespace

void Api::Observe(const Request& req, const Response& resp, const http::Exchange& x) {
  metrics_.ObserveRequest(req.method, RouteName(MatchRoute(req.path).route), resp.status, x.seconds,
                          x.bytes_in, x.bytes_out);
}

Result<UploadStore::Sweep> Api::ExpireUploads() {
  return uploads_.ExpireIdle(config_.upload_idle_seconds, static_cast<int64_t>(std::time(nullptr)));
}

void Api::Handle(Request& req, Response& resp) {
  resp.Set("Docker-Distribution-API-Version", "registry/2.0");
  resp.Set("X-Content-Type-Options", "nosniff");
  Target t = MatchRoute(req.path);
  if (t.route == Route::kToken && gate_.issuing()) return Token(req, resp);
  if (t.route == Route::kNone || t.route == Route::kToken) {
    Status st(Code::kNotFound, "no such endpoint: " + req.path.substr(0, 200));
    WriteError(st, resp);
    resp.status = 404;
    return;
  }
  if (!t.name.empty()) {
    Status st = ValidateRepositoryName(t.name);
    if (!st.ok()) return WriteError(st, resp);
  }
  // Access control, for every endpoint, before any handler (access.h).
  Result<Identity> who = gate_.Authenticate(req);
  std::string scope;
  Status allowed = who.ok() ? Authorize(t, req, *who, &scope) : who.status();
  if (!who.ok()) (void)Authorize(t, req, Identity{}, &scope);  // the scope it would need
  if (!allowed.ok()) {
    WriteError(allowed, resp);
    if (allowed.code() == Code::kUnauthorized) {
      resp.Set("WWW-Authenticate", gate_.Challenge(req, scope, who));
    }
    return;
  }
  Dispatch(t, req, resp, *who);
  // JSON documents (and the metrics' text) go out compressed where the client accepts it; blobs
  // never (they are compressed already, and Range counts their bytes).
  switch (t.route) {
    case Route::kManifest:
    case Route::kTags:
    case Route::kCatalog:
    case Route::kReferrers:
    case Route::kMetrics:
    case Route::kUi:
    case Route::kScan:
      http::EncodeResponse(req, resp);
      break;
    default:
      break;
  }
}

// The token endpoint (token.h): GET /token?service=&scope=... with Basic
// credentials or none, or POST /token with the password grant's form.
void Api::Token(Request& req, Response& resp) {
  resp.Set("Cache-Control", "no-store");  // RFC 6749 §5.1
  std::string form;
  if (req.method == "POST") {
    Result<std::string> body = ReadSmallBody(req, 64 << 10);
    if (!body.ok()) return WriteError(body.status(), resp);
    form = std::move(*body);
  } else if (req.method != "GET") {
    return WriteError(Status(Code::kUnsupported, "the token endpoint takes GET and POST"), resp);
  }
  Result<std::string> answer = gate_.IssueToken(req, form);
  if (!answer.ok()) {
    WriteError(answer.status(), resp);
    if (answer.status().code() == Code::kInvalidArgument) resp.status = 400;  // a bad request
    if (answer.status().code() == Code::kUnauthorized) {
      resp.Set("WWW-Authenticate", gate_.BasicChallenge());
    }
    return;
  }
  SetJson(resp, 200, *answer);
}

Status Api::Authorize(const Target& t, Request& req, const Identity& who, std::string* scope) {
  if (!gate_.enabled()) return Status::Ok();
  const std::string& m = req.method;
  bool read = m == "GET" || m == "HEAD";
  // Scopes as distribution's challenges name them: a push asks for
  // "pull,push", so one token serves the whole upload.
  auto need = [&](Action a, const std::string& repo) {
    if (gate_.Allows(who, repo, a)) return Status::Ok();
    ResourceActions res{"repository", repo, {ActionName(a)}};
    *scope = a == Action::kPush ? "repository:" + repo + ":pull,push" : res.ScopeString();
    return gate_.Refusal(who, res);
  };
  switch (t.route) {
    case Route::kHealth:
    case Route::kToken:
    case Route::kUi:  // static files; what they show comes through the API, checked there
      return Status::Ok();
    case Route::kMetrics:  // any signed-in user, when access is controlled
      if (!who.anonymous()) return Status::Ok();
      return gate_.Refusal(who, ResourceActions{"registry", "metrics", {}});
    case Route::kBase:  // signing in, as distribution answers it
      if (!who.anonymous() || who.token) return Status::Ok();
      return gate_.Refusal(who, ResourceActions{"registry", "base", {}});
    case Route::kCatalog:  // filtered to what the caller may pull
      if (gate_.AllowsCatalog(who)) return Status::Ok();
      *scope = "registry:catalog:*";
      return gate_.Refusal(who, ResourceActions{"registry", "catalog", {"*"}});
    case Route::kTags:
    case Route::kReferrers:
    case Route::kScan:
      return need(Action::kPull, t.name);
    case Route::kManifest:
    case Route::kBlob:
      if (read) return need(Action::kPull, t.name);
      return need(m == "DELETE" ? Action::kDelete : Action::kPush, t.name);
    case Route::kUploadStart: {
      HOIST_RETURN_IF_ERROR(need(Action::kPush, t.name));
      // A mount needs pull on its source; without it, a plain session
      // (distribution-spec: the registry may always decline a mount).
      std::optional<std::string> from = req.Query("from");
      if (from && !gate_.Allows(who, *from, Action::kPull)) {
        std::erase_if(req.query,
                      [](const auto& kv) { return kv.first == "mount" || kv.first == "from"; });
      }
      return Status::Ok();
    }
    case Route::kUpload: {
      HOIST_RETURN_IF_ERROR(need(Action::kPush, t.name));
      // A session belongs to the user who opened it.
      std::string owner = uploads_.Owner(t.name, t.ref);
      if (!owner.empty() && owner != who.user) {
        return Status(Code::kDenied, "upload " + t.ref + " belongs to another user");
      }
      return Status::Ok();
    }
    case Route::kNone:
      break;
  }
  return Status::Ok();
}

void Api::Dispatch(const Target& t, Request& req, Response& resp, const Identity& who) {
  const std::string& m = req.method;
  bool get = m == "GET" || m == "HEAD";
  bool writes_content = t.route == Route::kManifest || t.route == Route::kBlob ||
                        t.route == Route::kUploadStart || t.route == Route::kUpload;
  if (proxy_ && writes_content && !get) {
    return WriteError(
        Status(Code::kUnsupported, "this registry is a pull-through mirror of " +
                                       proxy_->upstream() + ": push to the upstream instead"),
        resp);
  }
  switch (t.route) {
    case Route::kBase:
      if (get) return SetJson(resp, 200, "{}");
      break;
    case Route::kHealth:
      if (get) return Health(resp);
      break;
    case Route::kMetrics:
      if (get) return ServeMetrics(resp);
      break;
    case Route::kUi:
      if (get && config_.ui_enabled) return ServeUi(t, req, resp);
      if (!config_.ui_enabled) {
        WriteError(Status(Code::kNotFound, "the web UI is off (--no-ui)"), resp);
        resp.status = 404;
        return;
      }
      break;
    case Route::kCatalog:
      if (m == "GET") return Catalog(req, resp, who);
      break;
    case Route::kTags:
      if (m == "GET") return TagsList(t, req, resp);
      break;
    case Route::kManifest:
      if (get) return GetManifest(t, req, resp);
      if (m == "PUT") return PutManifest(t, req, resp);
      if (m == "DELETE") return DeleteManifest(t, resp);
      break;
    case Route::kBlob:
      if (get) return GetBlob(t, req, resp);
      if (m == "DELETE") return DeleteBlob(t, resp);
      break;
    case Route::kUploadStart:
      if (m == "POST") return StartUpload(t, req, resp, who);
      break;
    case Route::kUpload:
      if (get) return UploadStatus(t, resp);  // HEAD too, as distribution
      if (m == "PATCH") return PatchUpload(t, req, resp);
      if (m == "PUT") return PutUpload(t, req, resp);
      if (m == "DELETE") return CancelUpload(t, resp);
      break;
    case Route::kReferrers:
      if (m == "GET") return Referrers(t, req, resp);
      break;
    case Route::kScan:
      if (get) return ScanReport(t, resp);
      break;
    case Route::kToken:
    case Route::kNone:
      break;
  }
  WriteError(Status(Code::kUnsupported, "method " + m + " not allowed on this endpoint"), resp);
}

void Api::Health(Response& resp) {
  static std::atomic<uint64_t> counter{0};
  std::string probe =
      "/.hoist-healthz-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  Status st = driver_.PutContent(probe, "ok");
  if (st.ok()) st = driver_.Delete(probe);
  if (!st.ok()) {
    return SetJson(resp, 503, json{{"status", "unhealthy"}, {"error", st.message()}}.dump());
  }
  SetJson(resp, 200, R"({"status":"ok"})");
}

void Api::ServeMetrics(Response& resp) {
  resp.status = 200;
  resp.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  resp.body = metrics_.Render(uploads_.open(), scanner_.get());
}

void Api::ServeUi(const Target& t, Request& req, Response& resp) {
  if (req.path == "/ui") {  // relative asset paths need the slash
    resp.status = 301;
    resp.Set("Location", "/ui/");
    return;
  }
  const ui::Asset* asset = ui::Find(t.ref);
  if (!asset) {
    WriteError(Status(Code::kNotFound, "no such UI file: " + t.ref), resp);
    resp.status = 404;
    return;
  }
  resp.status = 200;
  resp.Set("Content-Type", std::string(ui::ContentType(asset->path)));
  resp.Set("Cache-Control", "no-cache");
  // The UI runs only its own scripts, talks only to this origin, and is
  // never framed (clickjacking of its delete buttons).
  resp.Set("Content-Security-Policy",
           "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'");
  resp.Set("X-Frame-Options", "DENY");
  if (req.method == "HEAD") {
    resp.head_length = static_cast<int64_t>(asset->bytes.size());
  } else {
    resp.body = std::string(asset->bytes);
  }
}

void Api::Catalog(Request& req, Response& resp, const Identity& who) {
  int64_t n;
  if (!ParsePageSize(req, kCatalogPageMax, &n)) {
    return WriteError(Status(Code::kPaginationInvalid, "n must be a non-negative integer"), resp);
  }
  n = std::min(n, kCatalogPageMax);
  Result<std::vector<std::string>> repos = manifests_.Repositories();
  if (!repos.ok()) return WriteError(repos.status(), resp);
  std::erase_if(*repos, [&](const std::string& r) { return !gate_.Lists(who, r); });
  std::vector<std::string> page = Paginate(*repos, req, n, "/v2/_catalog", resp);
  SetJson(resp, 200, json{{"repositories", page}}.dump());
}

void Api::TagsList(const Target& t, Request& req, Response& resp) {
  int64_t n;
  if (!ParsePageSize(req, -1, &n)) {
    return WriteError(Status(Code::kPaginationInvalid, "n must be a non-negative integer"), resp);
  }
  Result<std::vector<std::string>> tags = manifests_.Tags(t.name);
  if (!tags.ok()) return WriteError(tags.status(), resp);
  std::vector<std::string> page = Paginate(*tags, req, n, "/v2/" + t.name + "/tags/list", resp);
  SetJson(resp, 200, json{{"name", t.name}, {"tags", page}}.dump());
}

// distribution-spec v1.1, "Pulling manifests" (end-3).
void Api::GetManifest(const Target& t, Request& req, Response& resp) {
  if (proxy_) {
    Status st = proxy_->EnsureManifest(t.name, t.ref);
    if (!st.ok()) return WriteUpstreamError(st, resp);
  }
  Result<StoredManifest> m = manifests_.Get(t.name, t.ref);
  if (!m.ok()) return WriteError(m.status(), resp);
  bool by_digest = t.ref.find(':') != std::string::npos;
  std::vector<std::string> accepted = AcceptedTypes(req);
  if (!by_digest && !accepted.empty()) {
    bool ok = false;
    for (const std::string& a : accepted) {
      ok = ok || a == m->media_type || a == "*/*" || a == "application/*";
    }
    if (!ok) {
      return WriteError(
          Status(Code::kManifestUnknown, "manifest " + t.ref + " is " + m->media_type +
                                             ", which the Accept header excludes"),
          resp);
    }
  }
  resp.status = 200;
  resp.Set("Content-Type", m->media_type);
  resp.Set("Docker-Content-Digest", m->digest.str());
  resp.Set("ETag", "\"" + m->digest.str() + "\"");
  if (req.method == "HEAD") {
    resp.head_length = static_cast<int64_t>(m->content.size());
  } else {
    resp.body = std::move(m->content);
  }
}

// distribution-spec v1.1, "Pushing manifests" (end-7a, end-7b) and
// "Pushing Manifests with Subject".
void Api::PutManifest(const Target& t, Request& req, Response& resp) {
  Result<std::string> body = ReadSmallBody(req, config_.max_manifest_bytes);
  if (!body.ok()) return WriteError(body.status(), resp);
  const std::string* ct = req.Header("Content-Type");
  std::vector<std::string> extra = req.QueryAll("tag");
  if (!extra.empty() && t.ref.find(':') == std::string::npos) {
    return WriteError(Status(Code::kManifestInvalid, "tag= parameters need a PUT by digest"), resp);
  }
  Result<PutManifestResult> r = manifests_.Put(t.name, t.ref, ct ? *ct : "", *body, extra);
  if (!r.ok()) return WriteError(r.status(), resp);
  resp.status = 201;
  resp.Set("Location", "/v2/" + t.name + "/manifests/" + r->digest.str());
  resp.Set("Docker-Content-Digest", r->digest.str());
  if (r->subject) resp.Set("OCI-Subject", r->subject->str());
  if (!extra.empty()) {
    for (const std::string& tag : r->tags) resp.Set("OCI-Tag", tag);
  }
}

// distribution-spec v1.1, "Deleting tags" / "Deleting Manifests" (end-9).
void Api::DeleteManifest(const Target& t, Response& resp) {
  if (!config_.delete_enabled) {
    return WriteError(Status(Code::kUnsupported, "deletion is disabled"), resp);
  }
  Status st = manifests_.Delete(t.name, t.ref);
  if (!st.ok()) return WriteError(st, resp);
  resp.status = 202;
}

// distribution-spec v1.1, "Pulling blobs" (end-2), with Range (RFC 9110).
void Api::GetBlob(const Target& t, Request& req, Response& resp) {
  Result<Digest> d = ParseDigestParam(t.ref);
  if (!d.ok()) return WriteError(d.status(), resp);
  Result<int64_t> size = blobs_.Stat(t.name, *d);
  if (!size.ok() && proxy_ && size.status().code() == Code::kBlobUnknown) {
    return GetMirroredBlob(t, *d, req, resp);
  }
  if (!size.ok()) return WriteError(size.status(), resp);
  resp.Set("Docker-Content-Digest", d->str());
  resp.Set("ETag", "\"" + d->str() + "\"");
  resp.Set("Accept-Ranges", "bytes");
  resp.Set("Cache-Control", "max-age=31536000");
  int64_t start = 0, end = *size - 1;
  const std::string* range = req.Header("Range");
  bool partial = false;
  if (range) {
    bool whole = false;
    if (!ParseRange(*range, *size, &start, &end, &whole)) {
      WriteError(Status(Code::kRangeInvalid, "range " + *range + " not satisfiable"), resp);
      resp.Set("Content-Range", "bytes */" + std::to_string(*size));
      return;
    }
    partial = !whole;
    if (whole) start = 0, end = *size - 1;
  }
  int64_t length = *size == 0 ? 0 : end - start + 1;
  resp.status = partial ? 206 : 200;
  resp.Set("Content-Type", "application/octet-stream");
  if (partial) {
    resp.Set("Content-Range", "bytes " + std::to_string(start) + "-" + std::to_string(end) + "/" +
                                  std::to_string(*size));
  }
  if (req.method == "HEAD") {
    resp.head_length = length;
    return;
  }
  Result<std::unique_ptr<storage::FileReader>> r = blobs_.Open(t.name, *d, start);
  if (!r.ok()) return WriteError(r.status(), resp);
  resp.stream_fd = (*r)->fd();
  resp.stream = std::move(*r);
  resp.stream_length = length;
}

// A blob the mirror does not hold yet, from the upstream as it is stored
// (proxy.h). A Range is answered with the whole blob (RFC 9110 §14.2: a
// server may ignore it).
void Api::GetMirroredBlob(const Target& t, const Digest& d, Request& req, Response& resp) {
  bool head = req.method == "HEAD";
  Result<Proxy::Fetch> f = proxy_->FetchBlob(t.name, d, head);
  if (!f.ok()) return WriteUpstreamError(f.status(), resp);
  if (f->linked) return GetBlob(t, req, resp);  // from storage now
  resp.status = 200;
  resp.Set("Docker-Content-Digest", d.str());
  resp.Set("ETag", "\"" + d.str() + "\"");
  resp.Set("Content-Type", "application/octet-stream");
  if (head) {
    resp.head_length = f->size;
    return;
  }
  resp.stream = std::move(f->body);
  resp.stream_length = f->size;
}

// distribution-spec v1.1, "Deleting Blobs" (end-10).
void Api::DeleteBlob(const Target& t, Response& resp) {
  if (!config_.delete_enabled) {
    return WriteError(Status(Code::kUnsupported, "deletion is disabled"), resp);
  }
  Result<Digest> d = ParseDigestParam(t.ref);
  if (!d.ok()) return WriteError(d.status(), resp);
  Status st = blobs_.Unlink(t.name, *d);
  if (!st.ok()) return WriteError(st, resp);
  resp.status = 202;
  resp.Set("Docker-Content-Digest", d->str());
}

void Api::UploadAccepted(const Target& t, const std::string& id, int64_t offset, int status,
                         Response& resp) {
  resp.status = status;
  resp.Set("Location", "/v2/" + t.name + "/blobs/uploads/" + id);
  resp.Set("Range", "0-" + std::to_string(offset > 0 ? offset - 1 : 0));
  resp.Set("Docker-Upload-UUID", id);
}

// distribution-spec v1.1: end-4a (session), end-4b (single POST), end-4c
// (digest-algorithm), end-11 (mount).
void Api::StartUpload(const Target& t, Request& req, Response& resp, const Identity& who) {
  std::optional<std::string> mount = req.Query("mount");
  if (mount) {
    Result<Digest> d = ParseDigestParam(*mount);
    if (!d.ok()) return WriteError(d.status(), resp);
    std::optional<std::string> from = req.Query("from");
    if (from) {
      Status st = ValidateRepositoryName(*from);
      if (!st.ok()) return WriteError(st, resp);
      BlobStore::Use use(blobs_);  // held from the check to the link (gc.h)
      use.Add(*d);
      if (blobs_.Stat(*from, *d).ok()) {
        st = blobs_.Link(t.name, *d);
        if (!st.ok()) return WriteError(st, resp);
        resp.status = 201;
        resp.Set("Location", BlobLocation(t.name, *d));
        resp.Set("Docker-Content-Digest", d->str());
        return;
      }
    }
    // Not mountable: fall through to an ordinary session (202).
  }
  DigestAlgorithm alg = DigestAlgorithm::kSha256;
  std::optional<std::string> digest_param = req.Query("digest");
  std::optional<Digest> digest;
  if (digest_param) {
    Result<Digest> d = ParseDigestParam(*digest_param);
    if (!d.ok()) return WriteError(d.status(), resp);
    digest = *d;
    alg = d->algorithm();
  } else if (std::optional<std::string> a = req.Query("digest-algorithm")) {
    Result<DigestAlgorithm> pa = ParseAlgorithm(*a);
    if (!pa.ok()) {
      return WriteError(Status(Code::kDigestInvalid, pa.status().message()), resp);
    }
    alg = *pa;
  }
  Result<std::string> id = uploads_.Start(t.name, alg, gate_.enabled() ? who.user : "");
  if (!id.ok()) return WriteError(id.status(), resp);
  if (!digest || mount) return UploadAccepted(t, *id, 0, 202, resp);
  // Single POST: the body is the whole blob.
  Result<int64_t> n =
      uploads_.Append(t.name, *id, req.body(), std::nullopt, req.content_length, false);
  Status st = n.ok() ? uploads_.Finish(t.name, *id, *digest) : n.status();
  if (!st.ok()) {
    (void)uploads_.Cancel(t.name, *id);
    return WriteError(st, resp);
  }
  resp.status = 201;
  resp.Set("Location", BlobLocation(t.name, *digest));
  resp.Set("Docker-Content-Digest", digest->str());
}

// distribution-spec v1.1, end-13.
void Api::UploadStatus(const Target& t, Response& resp) {
  Result<int64_t> off = uploads_.Offset(t.name, t.ref);
  if (!off.ok()) return WriteError(off.status(), resp);
  UploadAccepted(t, t.ref, *off, 204, resp);
}

// Appends the request body to the upload session t.ref, checking the
// optional Content-Range against the session's offset (spec: 416 on a
// mismatch). Returns the new size.
Result<int64_t> Api::AppendBody(const Target& t, Request& req, bool last) {
  std::optional<ChunkRange> range;
  if (const std::string* cr = req.Header("Content-Range")) {
    range = ParseContentRange(*cr);
    if (!range) return Status(Code::kRangeInvalid, "malformed Content-Range " + *cr);
  }
  return uploads_.Append(t.name, t.ref, req.body(), range, req.content_length, !last);
}

// distribution-spec v1.1, "Pushing a blob in chunks" (end-5).
void Api::PatchUpload(const Target& t, Request& req, Response& resp) {
  Result<int64_t> off = AppendBody(t, req, /*last=*/false);
  if (!off.ok()) {
    WriteError(off.status(), resp);
    if (off.status().code() == Code::kRangeInvalid) {
      if (Result<int64_t> cur = uploads_.Offset(t.name, t.ref); cur.ok()) {
        resp.Set("Location", "/v2/" + t.name + "/blobs/uploads/" + t.ref);
        resp.Set("Range", "0-" + std::to_string(*cur > 0 ? *cur - 1 : 0));
      }
    }
    return;
  }
  UploadAccepted(t, t.ref, *off, 202, resp);
}

// distribution-spec v1.1, end-6: close the session, optionally with the
// last chunk.
void Api::PutUpload(const Target& t, Request& req, Response& resp) {
  std::optional<std::string> dp = req.Query("digest");
  if (!dp) return WriteError(Status(Code::kDigestInvalid, "digest parameter missing"), resp);
  Result<Digest> d = ParseDigestParam(*dp);
  if (!d.ok()) return WriteError(d.status(), resp);
  if (req.HasBody()) {
    Result<int64_t> off = AppendBody(t, req, /*last=*/true);
    if (!off.ok()) return WriteError(off.status(), resp);
  }
  Status st = uploads_.Finish(t.name, t.ref, *d);
  if (!st.ok()) return WriteError(st, resp);
  resp.status = 201;
  resp.Set("Location", BlobLocation(t.name, *d));
  resp.Set("Docker-Content-Digest", d->str());
}

// distribution-spec v1.1, "Cancel a blob upload" (end-14).
void Api::CancelUpload(const Target& t, Response& resp) {
  Status st = uploads_.Cancel(t.name, t.ref);
  if (!st.ok()) return WriteError(st, resp);
  resp.status = 204;
}

// distribution-spec v1.1, "Listing Referrers" (end-12a, end-12b).
void Api::Referrers(const Target& t, Request& req, Response& resp) {
  Result<Digest> d = ParseDigestParam(t.ref);
  if (!d.ok()) return WriteError(d.status(), resp);
  std::string artifact_type = req.Query("artifactType").value_or("");
  Result<std::string> list = manifests_.Referrers(t.name, *d, artifact_type);
  if (!list.ok()) return WriteError(list.status(), resp);
  if (!artifact_type.empty()) resp.Set("OCI-Filters-Applied", "artifactType");
  SetJson(resp, 200,
          "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(media::kOciIndex) +
              "\",\"manifests\":" + *list + "}",
          media::kOciIndex);
}

}  // namespace hoist::registry
