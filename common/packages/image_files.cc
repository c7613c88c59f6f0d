#include "common/packages/image_files.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <set>
#include <vector>

namespace hoist::packages {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};

// libarchive's read callback over a ByteSource.
struct Feed {
  ByteSource* src = nullptr;
  std::vector<char> buf = std::vector<char>(1 << 16);
  Status error;
};

la_ssize_t ReadCallback(archive* a, void* data, const void** out) {
  Feed* f = static_cast<Feed*>(data);
  Result<size_t> n = f->src->Read(f->buf.data(), f->buf.size());
  if (!n.ok()) {
    f->error = n.status();
    archive_set_error(a, EIO, "%s", n.status().message().c_str());
    return -1;
  }
  *out = f->buf.data();
  return static_cast<la_ssize_t>(*n);
}

// "./a/b" and "/a/b" as "a/b".
std::string Clean(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  return p;
}

bool Wanted(const std::string& path) {
  for (const char* p : ImageFiles::kPaths) {
    if (path == p) return true;
  }
  for (const char* d : ImageFiles::kDirectories) {
    const std::string dir(d);
    if (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
        path.find('/', dir.size()) == std::string::npos) {
      return true;
    }
  }
  return false;
}

bool Under(const std::string& path, const std::string& dir) {
  return dir.empty() || path == dir ||
         (path.size() > dir.size() && path[dir.size()] == '/' &&
          path.compare(0, dir.size(), dir) == 0);
}

}  // namespace

Status ImageFiles::AddLayer(ByteSource& layer) {
  std::unique_ptr<archive, ArchiveFree> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  Feed feed;
  feed.src = &layer;
  if (archive_read_open(a.get(), &feed, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    return Status(Code::kInvalidArgument, std::string("layer: ") + archive_error_string(a.get()));
  }
  // What this layer removes applies to the layers below it only; what it
  // adds is kept apart until its end.
  std::set<std::string> removed;  // paths (whiteouts) and directories (opaque, as "dir/")
  std::map<std::string, std::string> added;
  std::set<std::string> replaced;  // wanted paths this layer makes something else (a link)
  archive_entry* e = nullptr;
  while (true) {
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      if (!feed.error.ok()) return feed.error;
      return Status(Code::kInvalidArgument, std::string("layer: ") + archive_error_string(a.get()));
    }
    const std::string path = Clean(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base == ".wh..wh..opq") {
      removed.insert(dir + "/");
      continue;
    }
    if (base.rfind(".wh.", 0) == 0) {
      removed.insert((dir.empty() ? "" : dir + "/") + base.substr(4));
      continue;
    }
    if (!Wanted(path)) continue;
    if (archive_entry_filetype(e) != AE_IFREG) {
      replaced.insert(path);  // a link or directory now stands there
      continue;
    }
    if (archive_entry_size(e) > kMaxFileBytes) {
      return Status(Code::kInvalidArgument, "layer: /" + path + " is larger than " +
                                                std::to_string(kMaxFileBytes) + " bytes");
    }
    std::string content;
    char buf[65536];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) != 0;) {
      if (n < 0) {
        if (!feed.error.ok()) return feed.error;
        return Status(Code::kInvalidArgument,
                      std::string("layer: ") + archive_error_string(a.get()));
      }
      content.append(buf, static_cast<size_t>(n));
    }
    added[path] = std::move(content);
    replaced.erase(path);
  }
  for (auto it = files_.begin(); it != files_.end();) {
    bool gone = replaced.count(it->first) > 0;
    for (const std::string& r : removed) {
      if (gone) break;
      gone = r.back() == '/' ? Under(it->first, r.substr(0, r.size() - 1)) && it->first != r
                             : Under(it->first, r);
    }
    it = gone ? files_.erase(it) : std::next(it);
  }
  for (auto& [path, content] : added) files_[path] = std::move(content);
  return Status::Ok();
}

const std::string* ImageFiles::Find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

Result<Installed> ReadInstalled(const ImageFiles& files) {
  Installed out;
  if (const std::string* os = files.OsReleaseText()) out.os = ParseOsRelease(*os);
  for (const auto& [path, text] : files.files()) {
    Result<std::vector<Package>> found = std::vector<Package>();
    if (path == "var/lib/dpkg/status" || path.rfind("var/lib/dpkg/status.d/", 0) == 0) {
      found = ParseDpkgStatus(text);
    } else if (path == "lib/apk/db/installed") {
      found = ParseApkInstalled(text);
    } else if (path.size() > 13 && path.compare(path.size() - 13, 13, "/rpmdb.sqlite") == 0) {
      found = ParseRpmDb(text);
    }
    if (!found.ok())
      return Status(found.status().code(), "/" + path + ": " + found.status().message());
    out.packages.insert(out.packages.end(), found->begin(), found->end());
  }
  return out;
}

const std::string* ImageFiles::OsReleaseText() const {
  if (const std::string* s = Find("etc/os-release")) return s;
  return Find("usr/lib/os-release");
}

}  // namespace hoist::packages
