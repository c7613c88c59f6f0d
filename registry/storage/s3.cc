#include "registry/storage/s3.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/http_client.h"
#include "common/url.h"
#include "registry/storage/paths.h"
#include "registry/storage/sigv4.h"

namespace hoist::storage {

namespace {

constexpr int64_t kMinPart = 5 << 20;           // S3's smallest part but the last
constexpr int64_t kMaxCopy = int64_t{5} << 30;  // CopyObject's largest source

// The one thing this driver knows of the registry's layout: an upload
// session's data (paths::IsUploadData) is appended to by every PATCH, and
// lives between them as an open multipart upload, as in distribution's S3
// driver: each PATCH adds parts, none copies what came before. Stat sums
// its parts; Reader and Move complete it first (an object again).
constexpr size_t kSmallLimit = 64 << 20;  // GetContent's largest answer
constexpr const char* kUnsigned = "x-amz-content-sha256: UNSIGNED-PAYLOAD";

// --- XML (libxml2): the few elements S3's answers carry -------------------

struct XmlDoc {
  xmlDocPtr doc = nullptr;
  explicit XmlDoc(const std::string& text) {
    doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), "s3.xml", nullptr,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  }
  ~XmlDoc() {
    if (doc) xmlFreeDoc(doc);
  }
  XmlDoc(const XmlDoc&) = delete;
  XmlDoc& operator=(const XmlDoc&) = delete;
  xmlNodePtr root() const { return doc ? xmlDocGetRootElement(doc) : nullptr; }
};

bool Named(xmlNodePtr n, const char* name) {
  return n && n->type == XML_ELEMENT_NODE &&
         std::strcmp(reinterpret_cast<const char*>(n->name), name) == 0;
}

std::vector<xmlNodePtr> Children(xmlNodePtr parent, const char* name) {
  std::vector<xmlNodePtr> out;
  for (xmlNodePtr c = parent ? parent->children : nullptr; c; c = c->next) {
    if (Named(c, name)) out.push_back(c);
  }
  return out;
}

std::string Text(xmlNodePtr parent, const char* name) {
  for (xmlNodePtr c = parent ? parent->children : nullptr; c; c = c->next) {
    if (!Named(c, name)) continue;
    xmlChar* t = xmlNodeGetContent(c);
    std::string s = t ? reinterpret_cast<const char*>(t) : "";
    xmlFree(t);
    return s;
  }
  return "";
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// --- times ----------------------------------------------------------------

int64_t ParseHttpDate(const std::string& s) {  // "Sat, 05 Dec 2026 14:00:00 GMT"
  std::tm tm{};
  if (!strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

int64_t ParseIsoDate(const std::string& s) {  // "2026-12-05T14:00:00.000Z"
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// Percent-encodes as SigV4's canonical request has it (RFC 3986's
// unreserved characters as they are, everything else %XX in upper case):
// a key for the URL path keeps its '/', a query value does not.
std::string EncodeKey(std::string_view key, bool keep_slash = true) {
  return url::PercentEncode(key, keep_slash ? "/" : "");
}

// --- the bucket ------------------------------------------------------------

class Bucket {
 public:
  explicit Bucket(const S3Options& o)
      : o_(o), transport_([&] {
          http_client::TransportOptions t;
          t.ca_file = o.ca_file;
          t.user_agent = "hoist-registry";
          return t;
        }()) {
    std::string ep = o.endpoint;
    while (!ep.empty() && ep.back() == '/') ep.pop_back();
    std::string base;
    if (o.path_style) {
      base = ep + "/" + o.bucket;
    } else {
      size_t scheme = ep.find("://");
      base = ep.substr(0, scheme + 3) + o.bucket + "." + ep.substr(scheme + 3);
    }
    // base is "scheme://host[:port][/path]": the origin, and the Host
    // header that is signed.
    size_t host_at = base.find("://");
    host_at = host_at == std::string::npos ? 0 : host_at + 3;
    size_t path_at = std::min(base.find('/', host_at), base.size());
    origin_ = base.substr(0, path_at);
    host_ = base.substr(host_at, path_at - host_at);
    base_path_ = base.substr(path_at);
    creds_.access_key = o.access_key;
    creds_.secret_key = o.secret_key;
    creds_.region = o.region;
    prefix_ = o.root_directory;
    while (!prefix_.empty() && prefix_.front() == '/') prefix_.erase(0, 1);
    while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  }

  const S3Options& options() const { return o_; }
  // The key of a driver path ("/a/b" -> "<root>/a/b", no leading slash).
  std::string Key(const std::string& path) const {
    std::string p = path;
    while (!p.empty() && p.front() == '/') p.erase(0, 1);
    while (!p.empty() && p.back() == '/') p.pop_back();
    if (p.empty()) return prefix_;
    return prefix_.empty() ? p : prefix_ + "/" + p;
  }
  // The driver path of a key.
  std::string PathOf(const std::string& key) const {
    std::string k = prefix_.empty() ? key : key.substr(prefix_.size() + 1);
    while (!k.empty() && k.back() == '/') k.pop_back();
    return "/" + k;
  }

  struct Call {
    Call(std::string m, std::string k) : method(std::move(m)), key(std::move(k)) {}
    std::string method;
    std::string key;                           // empty: the bucket itself
    std::map<std::string, std::string> query;  // signed in sorted order
    std::vector<std::string> headers;
    std::string body;
    ByteSource* body_source = nullptr;
    int64_t body_length = -1;
  };

  // By value: a part's body is moved in, not copied (memory: one part).
  Result<std::unique_ptr<http_client::Response>> Send(Call c) {
    http_client::Request r;
    r.method = c.method;
    SigV4Request sign;
    sign.method = c.method;
    sign.host = host_;
    sign.path = base_path_ + "/" + EncodeKey(c.key);
    r.url = origin_ + sign.path;
    char sep = '?';
    for (const auto& [k, v] : c.query) {
      sign.query.emplace_back(EncodeKey(k, false), EncodeKey(v, false));
      r.url += sep + sign.query.back().first + "=" + sign.query.back().second;
      sep = '&';
    }
    r.headers = c.headers;
    r.headers.emplace_back(kUnsigned);
    sign.headers = r.headers;
    sign.payload_hash = "UNSIGNED-PAYLOAD";
    // Shared by the tries, not copied into each (a part is 32 MiB).
    if (!c.body.empty()) r.shared_body = std::make_shared<const std::string>(std::move(c.body));
    r.body_source = c.body_source;
    r.body_length = c.body_length;
    const std::vector<std::string> headers = r.headers;
    Status last;
    for (int attempt = 0; attempt < 3; ++attempt) {
      // Signed at each try: the signature dates the request, and S3 refuses
      // one more than 15 minutes off.
      r.headers = headers;
      for (std::string& h : SignV4(creds_, sign, static_cast<int64_t>(std::time(nullptr)))) {
        r.headers.push_back(std::move(h));
      }
      Result<std::unique_ptr<http_client::Response>> resp = transport_.Start(r);
      if (resp.ok() && (*resp)->status() < 500) return resp;
      // The gateway unreachable or failing (5xx): 503 to the registry's
      // client, which may retry; the next request tries the gateway again.
      last = Status(Code::kUnavailable, c.method + " " + c.key + ": " +
                                            (resp.ok() ? "S3 " + std::to_string((*resp)->status())
                                                       : resp.status().message()));
      if (c.body_source) break;  // a stream cannot be sent twice
      struct timespec ts = {0, 100'000'000L << attempt};
      nanosleep(&ts, nullptr);
    }
    return last;
  }

  // The Status of a failed answer: S3's error code mapped onto ours.
  Status Failure(http_client::Response& resp, const std::string& what) {
    Result<std::string> body = resp.ReadAll(64 << 10);
    std::string code, message;
    if (body.ok()) {
      XmlDoc x(*body);
      code = Text(x.root(), "Code");
      message = Text(x.root(), "Message");
    }
    std::string text = what + ": S3 " + std::to_string(resp.status()) +
                       (code.empty() ? "" : " " + code) + (message.empty() ? "" : ": " + message);
    if (resp.status() == 404 && code != "NoSuchBucket") return Status(Code::kNotFound, text);
    if (resp.status() == 416) return Status(Code::kRangeInvalid, text);
    if (resp.status() == 403 || resp.status() == 401 || code == "NoSuchBucket") {
      return Status(Code::kInvalidArgument, text);
    }
    return Status(Code::kIo, text);
  }

  // Sends and reads a small answer; `ok` statuses pass, others fail.
  Result<std::string> Small(Call c, std::initializer_list<int> ok,
                            http_client::Headers* h = nullptr) {
    const std::string what = c.method + " " + c.key;
    Result<std::unique_ptr<http_client::Response>> resp = Send(std::move(c));
    if (!resp.ok()) return resp.status();
    if (std::find(ok.begin(), ok.end(), (*resp)->status()) == ok.end()) {
      return Failure(**resp, what);
    }
    if (h) *h = (*resp)->headers();
    Result<std::string> body = (*resp)->ReadAll(kSmallLimit);
    if (!body.ok()) return body.status();
    // CopyObject and CompleteMultipartUpload may answer 200 with an error.
    if (body->find("<Error>") != std::string::npos) {
      XmlDoc x(*body);
      if (Named(x.root(), "Error")) {
        return Status(Code::kIo,
                      what + ": S3 " + Text(x.root(), "Code") + ": " + Text(x.root(), "Message"));
      }
    }
    return body;
  }

  struct Object {
    int64_t size = 0;
    int64_t mtime = 0;
  };
  Result<Object> Head(const std::string& key) {
    Call c{"HEAD", key};
    Result<std::unique_ptr<http_client::Response>> resp = Send(c);
    if (!resp.ok()) return resp.status();
    if ((*resp)->status() == 404) return Status(Code::kNotFound, key);
    if ((*resp)->status() != 200) return Failure(**resp, "HEAD " + key);
    Object o;
    if (const std::string* len = (*resp)->Header("content-length")) o.size = std::stoll(*len);
    if (const std::string* lm = (*resp)->Header("last-modified")) o.mtime = ParseHttpDate(*lm);
    return o;
  }

  // ListObjectsV2 below `prefix`: with a delimiter, one level (files and
  // "directories"); without, every key. `limit` > 0 stops early.
  struct Listing {
    std::vector<std::pair<std::string, Object>> files;
    std::vector<std::string> dirs;  // common prefixes, without the trailing '/'
  };
  Result<Listing> List(const std::string& prefix, bool one_level, int limit = 0) {
    Listing out;
    std::string token;
    for (int page = 0; page < 100000; ++page) {
      Call c{"GET", ""};
      c.query = {{"list-type", "2"}, {"prefix", prefix}};
      if (one_level) c.query["delimiter"] = "/";
      if (limit > 0) c.query["max-keys"] = std::to_string(limit);
      if (!token.empty()) c.query["continuation-token"] = token;
      Result<std::string> body = Small(c, {200});
      if (!body.ok()) return body.status();
      XmlDoc x(*body);
      xmlNodePtr root = x.root();
      if (!Named(root, "ListBucketResult"))
        return Status(Code::kIo, "ListObjectsV2: no ListBucketResult");
      for (xmlNodePtr e : Children(root, "Contents")) {
        Object o;
        o.size = std::atoll(Text(e, "Size").c_str());
        o.mtime = ParseIsoDate(Text(e, "LastModified"));
        out.files.emplace_back(Text(e, "Key"), o);
      }
      for (xmlNodePtr e : Children(root, "CommonPrefixes")) {
        std::string p = Text(e, "Prefix");
        while (!p.empty() && p.back() == '/') p.pop_back();
        out.dirs.push_back(p);
      }
      if (limit > 0 || Text(root, "IsTruncated") != "true") break;
      token = Text(root, "NextContinuationToken");
      if (token.empty()) break;
    }
    return out;
  }

  Status Delete(const std::string& key) {
    Result<std::string> r = Small(Call{"DELETE", key}, {204, 200, 404});
    return r.ok() ? Status::Ok() : r.status();
  }

  // A multipart upload (or copy) in progress.
  struct Multipart {
    std::string key, id;
    std::vector<std::string> etags;  // part i + 1's
    std::vector<int64_t> sizes;      // of parts listed when it was found open
    int64_t initiated = 0;           // unix seconds, when found open
  };

  // The newest open multipart upload of exactly `key`, with its parts
  // (ListMultipartUploads, ListParts); nullopt when there is none.
  Result<std::optional<Multipart>> OpenMultipart(const std::string& key) {
    Result<std::vector<Multipart>> open = OpenMultiparts(key);
    if (!open.ok()) return open.status();
    std::optional<Multipart> best;
    for (Multipart& m : *open) {
      if (m.key == key && (!best || m.initiated >= best->initiated)) best = std::move(m);
    }
    if (!best) return std::optional<Multipart>();
    std::string marker;
    for (int page = 0; page < 10000; ++page) {
      Call c{"GET", key};
      c.query = {{"uploadId", best->id}};
      if (!marker.empty()) c.query["part-number-marker"] = marker;
      Result<std::string> body = Small(c, {200});
      if (!body.ok()) return body.status();
      XmlDoc x(*body);
      for (xmlNodePtr e : Children(x.root(), "Part")) {
        if (std::atoll(Text(e, "PartNumber").c_str()) !=
            static_cast<long long>(best->etags.size()) + 1) {
          return Status(Code::kIo, "ListParts " + key + ": parts are not numbered 1, 2, …");
        }
        best->etags.push_back(Text(e, "ETag"));
        best->sizes.push_back(std::atoll(Text(e, "Size").c_str()));
      }
      if (Text(x.root(), "IsTruncated") != "true") break;
      marker = Text(x.root(), "NextPartNumberMarker");
      if (marker.empty()) break;
    }
    return best;
  }

  // Every open multipart upload of a key below `prefix` (without parts).
  Result<std::vector<Multipart>> OpenMultiparts(const std::string& prefix) {
    std::vector<Multipart> out;
    std::string key_marker, id_marker;
    for (int page = 0; page < 10000; ++page) {
      Call c{"GET", ""};
      c.query = {{"uploads", ""}, {"prefix", prefix}};
      if (!key_marker.empty()) c.query["key-marker"] = key_marker;
      if (!id_marker.empty()) c.query["upload-id-marker"] = id_marker;
      Result<std::string> body = Small(c, {200});
      if (!body.ok()) return body.status();
      XmlDoc x(*body);
      for (xmlNodePtr e : Children(x.root(), "Upload")) {
        Multipart m{Text(e, "Key"), Text(e, "UploadId"), {}, {}, 0};
        m.initiated = ParseIsoDate(Text(e, "Initiated"));
        out.push_back(std::move(m));
      }
      if (Text(x.root(), "IsTruncated") != "true") break;
      key_marker = Text(x.root(), "NextKeyMarker");
      id_marker = Text(x.root(), "NextUploadIdMarker");
      if (key_marker.empty()) break;
    }
    return out;
  }

  // An upload session's data as one object: its open multipart upload, if
  // it has one, completed.
  Status Materialize(const std::string& key) {
    if (!paths::IsUploadData(key)) return Status::Ok();
    Result<std::optional<Multipart>> m = OpenMultipart(key);
    if (!m.ok()) return m.status();
    if (!*m) return Status::Ok();
    if ((*m)->etags.empty()) {  // nothing in it: the object (if any) is all
      Abort(**m);
      return Status::Ok();
    }
    return Complete(**m);
  }
  Result<Multipart> StartMultipart(const std::string& key) {
    Call c{"POST", key};
    c.query = {{"uploads", ""}};
    Result<std::string> body = Small(c, {200});
    if (!body.ok()) return body.status();
    XmlDoc x(*body);
    Multipart m{key, Text(x.root(), "UploadId"), {}, {}, 0};
    if (m.id.empty()) return Status(Code::kIo, "CreateMultipartUpload " + key + ": no UploadId");
    return m;
  }
  // `body` is taken (moved from), not copied.
  Status UploadPart(Multipart& m, std::string& body) {
    Call c{"PUT", m.key};
    c.query = {{"partNumber", std::to_string(m.etags.size() + 1)}, {"uploadId", m.id}};
    c.body = std::move(body);
    body.clear();
    if (c.body.empty()) c.headers.emplace_back("Content-Length: 0");
    http_client::Headers h;
    Result<std::string> r = Small(std::move(c), {200}, &h);
    if (!r.ok()) return r.status();
    const std::string* etag = http_client::FindHeader(h, "etag");
    if (!etag) return Status(Code::kIo, "UploadPart " + m.key + ": no ETag");
    m.etags.push_back(*etag);
    return Status::Ok();
  }
  // UploadPartCopy of [first, last] of `src` as the next part; `whole`:
  // the range is all of `src`, and no range header is sent.
  Status CopyPart(Multipart& m, const std::string& src, int64_t first, int64_t last, bool whole) {
    Call c{"PUT", m.key};
    c.query = {{"partNumber", std::to_string(m.etags.size() + 1)}, {"uploadId", m.id}};
    c.headers = {"x-amz-copy-source: /" + o_.bucket + "/" + EncodeKey(src), "Content-Length: 0"};
    if (!whole) {
      c.headers.push_back("x-amz-copy-source-range: bytes=" + std::to_string(first) + "-" +
                          std::to_string(last));
    }
    Result<std::string> body = Small(c, {200});
    if (!body.ok()) return body.status();
    XmlDoc x(*body);
    std::string etag = Text(x.root(), "ETag");
    if (etag.empty()) return Status(Code::kIo, "UploadPartCopy " + m.key + ": no ETag");
    m.etags.push_back(etag);
    return Status::Ok();
  }
  Status Complete(Multipart& m) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < m.etags.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             XmlEscape(m.etags[i]) + "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    Call c{"POST", m.key};
    c.query = {{"uploadId", m.id}};
    c.body = xml;
    c.headers = {"Content-Type: application/xml"};
    Result<std::string> r = Small(c, {200});
    return r.ok() ? Status::Ok() : r.status();
  }
  void Abort(const Multipart& m) {
    Call c{"DELETE", m.key};
    c.query = {{"uploadId", m.id}};
    (void)Small(c, {204, 200, 404});
  }

  // A server-side copy of `src` (of `size` bytes) to `dst`.
  Status Copy(const std::string& src, const std::string& dst, int64_t size) {
    if (size <= kMaxCopy) {
      Call c{"PUT", dst};
      c.headers = {"x-amz-copy-source: /" + o_.bucket + "/" + EncodeKey(src), "Content-Length: 0"};
      Result<std::string> r = Small(c, {200});
      return r.ok() ? Status::Ok() : r.status();
    }
    Result<Multipart> m = StartMultipart(dst);
    if (!m.ok()) return m.status();
    const int64_t part = int64_t{1} << 30;
    for (int64_t at = 0; at < size; at += part) {
      Status st = CopyPart(*m, src, at, std::min(size, at + part) - 1, false);
      if (!st.ok()) {
        Abort(*m);
        return st;
      }
    }
    Status st = Complete(*m);
    if (!st.ok()) Abort(*m);
    return st;
  }

  http_client::Transport& transport() { return transport_; }

 private:
  S3Options o_;
  http_client::Transport transport_;
  std::string origin_;     // "scheme://host[:port]"
  std::string host_;       // "host[:port]": the Host header, signed
  std::string base_path_;  // "/bucket" (path style), or ""
  SigV4Credentials creds_;
  std::string prefix_;
};

// --- readers and writers ----------------------------------------------------

class S3Reader : public FileReader {
 public:
  explicit S3Reader(std::unique_ptr<http_client::Response> resp) : resp_(std::move(resp)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    if (!resp_) return size_t{0};
    return resp_->Read(buf, n);
  }

 private:
  std::unique_ptr<http_client::Response> resp_;  // null: an empty read
};

class S3Writer : public FileWriter {
 public:
  S3Writer(Bucket& b, std::string key, bool append)
      : b_(b), key_(std::move(key)), keep_open_(append && paths::IsUploadData(key_)) {}

  // Appending: an upload session's open multipart upload goes on where it
  // is; otherwise what the object holds is the file's beginning.
  Status Resume() {
    if (keep_open_) {
      Result<std::optional<Bucket::Multipart>> m = b_.OpenMultipart(key_);
      if (!m.ok()) return m.status();
      if (*m && !(*m)->sizes.empty() && (*m)->sizes.back() >= kMinPart) {
        mp_ = std::move(**m);
        resumed_ = true;
        for (int64_t n : mp_->sizes) size_ += n;
        return Status::Ok();
      }
      // A last part too small to be followed by others (a PATCH of less
      // than 5 MiB): the upload becomes the object, which is the beginning.
      if (*m) HOIST_RETURN_IF_ERROR(b_.Materialize(key_));
    }
    Result<Bucket::Object> o = b_.Head(key_);
    if (!o.ok()) return o.status().code() == Code::kNotFound ? Status::Ok() : o.status();
    existing_ = o->size;
    size_ = o->size;
    if (existing_ > 0 && existing_ < kMinPart) {
      // Too small to be a part of its own: its bytes come first.
      Result<std::string> body = b_.Small(Bucket::Call{"GET", key_}, {200});
      if (!body.ok()) return body.status();
      buf_ = std::move(*body);
      existing_ = 0;
    }
    return Status::Ok();
  }

  // Parts of part_bytes, and at least 5 MiB held back: the last part a
  // commit leaves is never too small to be followed by others (unless all
  // the file is). Memory: one part and 5 MiB.
  Status Write(const char* data, size_t n) override {
    const size_t part = static_cast<size_t>(b_.options().part_bytes);
    if (buf_.capacity() < part + kMinPart) buf_.reserve(part + kMinPart);
    while (n > 0) {
      size_t take = std::min(n, part + kMinPart - std::min(part + kMinPart, buf_.size()));
      buf_.append(data, take);
      size_ += static_cast<int64_t>(take);
      data += take;
      n -= take;
      if (buf_.size() >= part + kMinPart) HOIST_RETURN_IF_ERROR(Flush(part));
    }
    return Status::Ok();
  }
  int64_t Size() const override { return size_; }

  Status Commit() override {
    if (keep_open_) {
      if (!mp_ && buf_.empty()) return Status::Ok();  // the object as it was
      HOIST_RETURN_IF_ERROR(StartIfNeeded());
      if (!buf_.empty()) HOIST_RETURN_IF_ERROR(Flush(buf_.size()));
      mp_.reset();  // stays open for the next PATCH
      // The object that was the beginning is in the parts now.
      if (!resumed_) HOIST_RETURN_IF_ERROR(b_.Delete(key_));
      return Status::Ok();
    }
    if (!mp_ && existing_ == 0) {
      // One PUT: the whole file is in the buffer.
      Bucket::Call c{"PUT", key_};
      c.body = std::move(buf_);
      if (c.body.empty()) c.headers.emplace_back("Content-Length: 0");
      Result<std::string> r = b_.Small(std::move(c), {200});
      return r.ok() ? Status::Ok() : r.status();
    }
    HOIST_RETURN_IF_ERROR(StartIfNeeded());
    if (!buf_.empty()) HOIST_RETURN_IF_ERROR(Flush(buf_.size()));
    Status st = b_.Complete(*mp_);
    if (!st.ok()) return Fail(st);
    mp_.reset();
    return Status::Ok();
  }

  void Cancel() override {
    if (mp_) b_.Abort(*mp_);
    mp_.reset();
    (void)b_.Delete(key_);
  }

  ~S3Writer() override {
    // Neither committed nor cancelled: nothing changes, but the parts of
    // earlier PATCHes stay where they are.
    if (mp_ && !resumed_) b_.Abort(*mp_);
  }

 private:
  Status StartIfNeeded() {
    if (mp_) return Status::Ok();
    Result<Bucket::Multipart> m = b_.StartMultipart(key_);
    if (!m.ok()) return m.status();
    mp_ = std::move(*m);
    if (existing_ > 0) {  // the object as it is: part 1, copied where it lies
      Status st = b_.CopyPart(*mp_, key_, 0, existing_ - 1, /*whole=*/true);
      if (!st.ok()) return Fail(st);
    }
    return Status::Ok();
  }
  // Uploads the first `n` bytes of the buffer as the next part.
  Status Flush(size_t n) {
    HOIST_RETURN_IF_ERROR(StartIfNeeded());
    // The buffer becomes the part; only what follows the part (the 5 MiB
    // held back) is copied into a new buffer.
    std::string body = std::move(buf_);
    buf_.assign(body, n);
    body.resize(n);
    Status st = b_.UploadPart(*mp_, body);
    if (!st.ok()) return Fail(st);
    return Status::Ok();
  }
  Status Fail(const Status& st) {
    if (mp_ && !resumed_) b_.Abort(*mp_);  // a resumed one holds earlier PATCHes
    mp_.reset();
    return st;
  }

  Bucket& b_;
  std::string key_;
  const bool keep_open_;  // appending to an upload session's data (paths::IsUploadData)
  bool resumed_ = false;  // mp_ was found open, with earlier PATCHes' parts
  std::string buf_;
  int64_t existing_ = 0;  // bytes of the object copied as part 1 (>= 5 MiB)
  int64_t size_ = 0;
  std::optional<Bucket::Multipart> mp_;
};

// --- the driver ---------------------------------------------------------------

class S3Driver : public StorageDriver {
 public:
  explicit S3Driver(const S3Options& o) : b_(o) {}
  std::string Name() const override { return "s3"; }

  Status Check() {
    Result<Bucket::Listing> l = b_.List(b_.Key("/"), true, 1);
    if (!l.ok()) {
      return Status(Code::kInvalidArgument, "S3 bucket \"" + b_.options().bucket + "\" at " +
                                                b_.options().endpoint + ": " +
                                                l.status().message());
    }
    return Status::Ok();
  }

  Result<std::string> GetContent(const std::string& path) override {
    Result<std::string> r = b_.Small(Bucket::Call{"GET", b_.Key(path)}, {200});
    if (!r.ok() && r.status().code() == Code::kNotFound) return Status(Code::kNotFound, path);
    return r;
  }

  Status PutContent(const std::string& path, std::string_view content) override {
    Bucket::Call c{"PUT", b_.Key(path)};
    c.body = std::string(content);
    if (content.empty()) c.headers.emplace_back("Content-Length: 0");
    Result<std::string> r = b_.Small(c, {200});
    return r.ok() ? Status::Ok() : r.status();
  }

  Result<std::unique_ptr<FileReader>> Reader(const std::string& path, int64_t offset) override {
    if (offset < 0) return Status(Code::kRangeInvalid, path + ": negative offset");
    HOIST_RETURN_IF_ERROR(b_.Materialize(b_.Key(path)));
    Result<Bucket::Object> o = b_.Head(b_.Key(path));
    if (!o.ok()) return o.status();
    if (offset > o->size) return Status(Code::kRangeInvalid, path + ": offset past the end");
    if (offset == o->size) return std::unique_ptr<FileReader>(new S3Reader(nullptr));
    Bucket::Call c{"GET", b_.Key(path)};
    if (offset > 0) c.headers.emplace_back("Range: bytes=" + std::to_string(offset) + "-");
    Result<std::unique_ptr<http_client::Response>> resp = b_.Send(c);
    if (!resp.ok()) return resp.status();
    int want = offset > 0 ? 206 : 200;
    if ((*resp)->status() != want) return b_.Failure(**resp, "GET " + path);
    return std::unique_ptr<FileReader>(new S3Reader(std::move(*resp)));
  }

  Result<std::unique_ptr<FileWriter>> Writer(const std::string& path, bool append) override {
    auto w = std::make_unique<S3Writer>(b_, b_.Key(path), append);
    if (append) HOIST_RETURN_IF_ERROR(w->Resume());
    return std::unique_ptr<FileWriter>(std::move(w));
  }

  Result<FileInfo> Stat(const std::string& path) override {
    if (b_.Key(path).empty()) {  // the bucket's root: a directory when it holds anything
      Result<Bucket::Listing> l = b_.List("", false, 1);
      if (!l.ok()) return l.status();
      if (l->files.empty()) return Status(Code::kNotFound, path);
      return FileInfo{path, 0, true, l->files.front().second.mtime};
    }
    if (paths::IsUploadData(b_.Key(path))) {  // its open multipart upload first
      Result<std::optional<Bucket::Multipart>> m = b_.OpenMultipart(b_.Key(path));
      if (!m.ok()) return m.status();
      if (*m && !(*m)->sizes.empty()) {
        int64_t size = 0;
        for (int64_t n : (*m)->sizes) size += n;
        return FileInfo{path, size, false, (*m)->initiated};
      }
    }
    Result<Bucket::Object> o = b_.Head(b_.Key(path));
    if (o.ok()) return FileInfo{path, o->size, false, o->mtime};
    if (o.status().code() != Code::kNotFound) return o.status();
    Result<Bucket::Listing> l = b_.List(b_.Key(path) + "/", false, 1);
    if (!l.ok()) return l.status();
    if (l->files.empty()) return Status(Code::kNotFound, path);
    return FileInfo{path, 0, true, l->files.front().second.mtime};
  }

  Result<std::vector<std::string>> List(const std::string& path) override {
    std::string prefix = b_.Key(path);
    if (!prefix.empty()) prefix += "/";
    Result<Bucket::Listing> l = b_.List(prefix, true);
    if (!l.ok()) return l.status();
    std::vector<std::string> out;
    for (const auto& [key, o] : l->files) out.push_back(b_.PathOf(key));
    for (const std::string& d : l->dirs) out.push_back(b_.PathOf(d));
    if (out.empty()) return Status(Code::kNotFound, path);
    return out;
  }

  Status Move(const std::string& from, const std::string& to) override {
    HOIST_RETURN_IF_ERROR(b_.Materialize(b_.Key(from)));
    Result<Bucket::Object> o = b_.Head(b_.Key(from));
    if (o.ok()) {
      HOIST_RETURN_IF_ERROR(b_.Copy(b_.Key(from), b_.Key(to), o->size));
      return b_.Delete(b_.Key(from));
    }
    if (o.status().code() != Code::kNotFound) return o.status();
    Result<Bucket::Listing> l = b_.List(b_.Key(from) + "/", false);
    if (!l.ok()) return l.status();
    if (l->files.empty()) return Status(Code::kNotFound, from);
    (void)Delete(to);  // replacing `to`
    std::string from_key = b_.Key(from), to_key = b_.Key(to);
    for (const auto& [key, obj] : l->files) {
      std::string dst = to_key + key.substr(from_key.size());
      HOIST_RETURN_IF_ERROR(b_.Copy(key, dst, obj.size));
      HOIST_RETURN_IF_ERROR(b_.Delete(key));
    }
    return Status::Ok();
  }

  Status Delete(const std::string& path) override {
    std::string key = b_.Key(path);
    bool any = false;
    if (Result<Bucket::Object> o = b_.Head(key); o.ok()) {
      HOIST_RETURN_IF_ERROR(b_.Delete(key));
      any = true;
    } else if (o.status().code() != Code::kNotFound) {
      return o.status();
    }
    Result<Bucket::Listing> l = b_.List(key + "/", false);
    if (!l.ok()) return l.status();
    for (const auto& [k, o] : l->files) {
      HOIST_RETURN_IF_ERROR(b_.Delete(k));
      any = true;
    }
    if (key.find("/_uploads") != std::string::npos) {  // sessions' open uploads go too
      Result<std::vector<Bucket::Multipart>> open = b_.OpenMultiparts(key);
      if (!open.ok()) return open.status();
      for (const Bucket::Multipart& m : *open) {
        if (m.key != key && m.key.compare(0, key.size() + 1, key + "/") != 0) continue;
        b_.Abort(m);
        any = true;
      }
    }
    return any ? Status::Ok() : Status(Code::kNotFound, path);
  }

 private:
  Bucket b_;
};

}  // namespace

Result<std::unique_ptr<StorageDriver>> NewS3Driver(const S3Options& options) {
  if (options.endpoint.rfind("http://", 0) != 0 && options.endpoint.rfind("https://", 0) != 0) {
    return Status(
        Code::kInvalidArgument,
        "the S3 endpoint must be an http:// or https:// URL, not \"" + options.endpoint + "\"");
  }
  if (options.bucket.empty()) return Status(Code::kInvalidArgument, "no S3 bucket given");
  if (options.access_key.empty() || options.secret_key.empty()) {
    return Status(Code::kInvalidArgument,
                  "no S3 credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  if (options.part_bytes < kMinPart) {
    return Status(Code::kInvalidArgument, "the S3 part size must be at least 5 MiB");
  }
  auto d = std::make_unique<S3Driver>(options);
  HOIST_RETURN_IF_ERROR(d->Check());
  return std::unique_ptr<StorageDriver>(std::move(d));
}

}  // namespace hoist::storage
