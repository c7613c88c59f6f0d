#include "common/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>

#include "common/url.h"

namespace hoist::http_client {

struct Connection {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  bool attached = false;  // easy is added to multi
};

namespace {

// Bytes buffered from the network before the transfer is paused until the
// reader catches up: what bounds memory per download.
constexpr size_t kMaxBuffered = 512 * 1024;
constexpr size_t kMaxIdleConnections = 16;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// libcurl's C callbacks, with access to Response's internals.
struct Callbacks {
  static size_t Header(char* data, size_t size, size_t n, void* user) {
    auto* r = static_cast<Response*>(user);
    size_t len = size * n;
    std::string_view line(data, len);
    r->last_activity_ms_ = NowMs();
    ++r->activity_;
    if (line.substr(0, 5) == "HTTP/") {
      r->headers_.clear();
      size_t sp = line.find(' ');
      r->status_ =
          sp == std::string_view::npos ? 0 : std::atoi(std::string(line.substr(sp + 1, 3)).c_str());
    } else if (line == "\r\n" || line == "\n") {
      bool interim = r->status_ >= 100 && r->status_ < 200;
      bool followed = r->follow_ && IsRedirect(r->status_) && r->Header("location");
      if (!interim && !followed) r->head_done_ = true;
    } else {
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        r->headers_.emplace_back(std::move(name), Trim(line.substr(colon + 1)));
      }
    }
    return len;
  }

  static size_t Write(char* data, size_t size, size_t n, void* user) {
    auto* r = static_cast<Response*>(user);
    size_t len = size * n;
    r->last_activity_ms_ = NowMs();
    ++r->activity_;
    r->head_done_ = true;
    if (r->buf_.size() - r->buf_off_ >= kMaxBuffered) {
      r->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    if (r->buf_off_ > 0 && r->buf_off_ == r->buf_.size()) {
      r->buf_.clear();
      r->buf_off_ = 0;
    } else if (r->buf_off_ > kMaxBuffered) {
      r->buf_.erase(0, r->buf_off_);
      r->buf_off_ = 0;
    }
    r->buf_.append(data, len);
    return len;
  }

  static size_t Read(char* buf, size_t size, size_t n, void* user) {
    auto* r = static_cast<Response*>(user);
    size_t want = size * n;
    r->last_activity_ms_ = NowMs();
    ++r->activity_;
    if (r->small_body_ != nullptr) {
      size_t k = std::min(want, r->small_body_->size() - r->small_off_);
      std::copy_n(r->small_body_->data() + r->small_off_, k, buf);
      r->small_off_ += k;
      return k;
    }
    if (r->source_ == nullptr) return 0;
    Result<size_t> got = r->source_->Read(buf, want);
    r->last_activity_ms_ = NowMs();
    if (!got.ok()) {
      r->source_status_ = got.status();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
};

const std::string* FindHeader(const Headers& headers, std::string_view name) {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

std::string UrlEncode(std::string_view s) {
  return url::PercentEncode(s, "");
}

// --- Transport ----------------------------------------------------------

Transport::Transport(TransportOptions options) : options_(std::move(options)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (!options_.ca_file.empty()) {
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    std::string system_bundle =
        v->cainfo != nullptr ? v->cainfo : "/etc/ssl/certs/ca-certificates.crt";
    std::string extra = ReadFileOrEmpty(options_.ca_file);
    if (extra.empty()) {
      ca_status_ =
          Status(Code::kInvalidArgument, "cannot read CA certificate file " + options_.ca_file);
    }
    ca_blob_ = ReadFileOrEmpty(system_bundle) + "\n" + extra;
  }
}

Transport::~Transport() {
  for (Connection* c : idle_) {
    curl_easy_cleanup(c->easy);
    curl_multi_cleanup(c->multi);
    delete c;
  }
}

Connection* Transport::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      Connection* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  auto* c = new Connection;
  c->multi = curl_multi_init();
  c->easy = curl_easy_init();
  return c;
}

void Transport::Release(Connection* c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleConnections) {
      idle_.push_back(c);
      return;
    }
  }
  curl_easy_cleanup(c->easy);
  curl_multi_cleanup(c->multi);
  delete c;
}

Result<std::unique_ptr<Response>> Transport::Start(const Request& req) {
  if (!ca_status_.ok()) return ca_status_;
  std::unique_ptr<Response> r(new Response(this, Acquire()));
  Status st = r->Begin(req);
  if (!st.ok()) return st;
  return r;
}

// --- Response -----------------------------------------------------------

Response::~Response() {
  if (conn_ == nullptr) return;
  if (conn_->attached) {
    curl_multi_remove_handle(conn_->multi, conn_->easy);
    conn_->attached = false;
  }
  if (header_list_ != nullptr) curl_slist_free_all(static_cast<curl_slist*>(header_list_));
  // An unfinished transfer's connection was closed by the removal above;
  // the handles themselves are reusable either way.
  transport_->Release(conn_);
}

Status Response::Begin(const Request& req) {
  CURL* e = conn_->easy;
  const TransportOptions& o = transport_->options_;
  curl_easy_reset(e);
  method_ = req.method;
  follow_ = req.follow_redirects;
  error_buf_.assign(CURL_ERROR_SIZE + 1, '\0');
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_buf_.data());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Callbacks::Header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Callbacks::Write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, &Callbacks::Read);
  curl_easy_setopt(e, CURLOPT_READDATA, this);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, static_cast<long>(o.connect_timeout_sec));
  curl_easy_setopt(e, CURLOPT_USERAGENT, o.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");  // registries are reached directly
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
  if (!o.tls_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!transport_->ca_blob_.empty()) {
    curl_blob blob{transport_->ca_blob_.data(), transport_->ca_blob_.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (req.follow_redirects) {
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  }
  if (!req.aws_sigv4.empty()) {
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, req.aws_sigv4.c_str());
    curl_easy_setopt(e, CURLOPT_USERPWD, req.userpwd.c_str());
  }

  bool has_body = req.body_source != nullptr || !req.body.empty() || req.shared_body ||
                  req.method == "PUT" || req.method == "PATCH" || req.method == "POST";
  if (req.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (has_body) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    if (req.body_source != nullptr) {
      source_ = req.body_source;
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_length));
    } else {
      request_body_ = req.shared_body ? req.shared_body : std::make_shared<std::string>(req.body);
      small_body_ = request_body_.get();
      curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(small_body_->size()));
    }
  }
  curl_slist* list = nullptr;
  for (const std::string& h : req.headers) list = curl_slist_append(list, h.c_str());
  // No "Expect: 100-continue" round trip; but under SigV4 the empty header
  // that removes it would be signed (curl 7.88) and the server, which never
  // sees it, would compute another signature: there curl's own Expect stays
  // (it is not signed).
  if (req.aws_sigv4.empty()) list = curl_slist_append(list, "Expect:");
  header_list_ = list;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);

  curl_multi_add_handle(conn_->multi, e);
  conn_->attached = true;
  last_activity_ms_ = NowMs();
  while (!head_done_ && !done_) HOIST_RETURN_IF_ERROR(Pump());
  if (done_ && result_ != CURLE_OK) return Failure();
  if (!done_) {  // let a body-less answer finish now, so its connection is kept
    int running = 0;
    curl_multi_perform(conn_->multi, &running);
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(conn_->multi, &queued)) {
      if (m->msg == CURLMSG_DONE) {
        done_ = true;
        result_ = m->data.result;
      }
    }
  }
  char* eff = nullptr;
  curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
  url_ = eff != nullptr ? eff : req.url;
  return Status::Ok();
}

Status Response::Pump() {
  const uint64_t before = activity_;
  int running = 0;
  CURLMcode mc = curl_multi_perform(conn_->multi, &running);
  if (mc != CURLM_OK) {
    return Status(Code::kIo, method_ + " " + url_ + ": " + curl_multi_strerror(mc));
  }
  int queued = 0;
  while (CURLMsg* m = curl_multi_info_read(conn_->multi, &queued)) {
    if (m->msg == CURLMSG_DONE) {
      done_ = true;
      result_ = m->data.result;
    }
  }
  if (done_ || activity_ != before) return Status::Ok();
  curl_multi_poll(conn_->multi, nullptr, 0, 100, nullptr);
  const int64_t stall_ms = int64_t{transport_->options_.stall_timeout_sec} * 1000;
  if (NowMs() - last_activity_ms_ > stall_ms) {
    done_ = true;
    result_ = CURLE_OPERATION_TIMEDOUT;
    std::snprintf(error_buf_.data(), error_buf_.size(), "no data for %d s",
                  transport_->options_.stall_timeout_sec);
  }
  return Status::Ok();
}

Status Response::Failure() {
  if (!source_status_.ok()) return source_status_;
  auto code = static_cast<CURLcode>(result_);
  std::string what = method_ + " " + (url_.empty() ? std::string("request") : url_);
  if (url_.empty()) {
    char* eff = nullptr;
    curl_easy_getinfo(conn_->easy, CURLINFO_EFFECTIVE_URL, &eff);
    if (eff != nullptr) what = method_ + " " + eff;
  }
  std::string msg = what + ": " + curl_easy_strerror(code);
  if (error_buf_[0] != '\0') msg += " (" + std::string(error_buf_.c_str()) + ")";
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CONNECT_ERROR:
      return Status(Code::kInvalidArgument, msg);
    default:
      return Status(Code::kIo, msg);
  }
}

Result<size_t> Response::Read(char* buf, size_t n) {
  if (n == 0) return size_t{0};
  if (buf_off_ == buf_.size()) last_activity_ms_ = NowMs();
  while (buf_off_ == buf_.size()) {
    if (paused_) {
      paused_ = false;
      curl_easy_pause(conn_->easy, CURLPAUSE_CONT);
      continue;
    }
    if (done_) {
      if (result_ != CURLE_OK) return Failure();
      return size_t{0};
    }
    HOIST_RETURN_IF_ERROR(Pump());
  }
  size_t k = std::min(n, buf_.size() - buf_off_);
  std::copy_n(buf_.data() + buf_off_, k, buf);
  buf_off_ += k;
  if (buf_off_ == buf_.size()) {
    buf_.clear();
    buf_off_ = 0;
  }
  return k;
}

Result<std::string> Response::ReadAll(size_t limit) {
  std::string out;
  char chunk[16384];
  while (true) {
    Result<size_t> got = Read(chunk, sizeof chunk);
    if (!got.ok()) return got.status();
    if (*got == 0) return out;
    if (out.size() + *got > limit) {
      return Status(Code::kInvalidArgument, method_ + " " + url_ + ": response larger than " +
                                                std::to_string(limit) + " bytes");
    }
    out.append(chunk, *got);
  }
}

void Response::Drain(size_t limit) {
  char chunk[16384];
  size_t total = 0;
  while (total < limit) {
    Result<size_t> got = Read(chunk, sizeof chunk);
    if (!got.ok() || *got == 0) return;
    total += *got;
  }
}

}  // namespace hoist::http_client
