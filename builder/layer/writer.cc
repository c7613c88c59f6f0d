#include "builder/layer/writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "builder/layer/locale.h"
#include "builder/layer/path.h"
#include "builder/store/file_io.h"

namespace hoist::layer {

// ---- Entry helpers ----

Entry Entry::Dir(std::string path, uint32_t mode) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kDirectory;
  e.mode = mode;
  return e;
}

namespace {
// A ByteSource over an owned string, for small in-memory files.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::shared_ptr<const std::string> s) : s_(std::move(s)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = std::min(n, s_->size() - off_);
    std::memcpy(buf, s_->data() + off_, k);
    off_ += k;
    return k;
  }

 private:
  std::shared_ptr<const std::string> s_;
  size_t off_ = 0;
};
}  // namespace

Entry Entry::File(std::string path, std::string content, uint32_t mode) {
  Entry e;
  e.path = std::move(path);
  e.mode = mode;
  e.size = content.size();
  auto shared = std::make_shared<const std::string>(std::move(content));
  e.open = [shared]() -> Result<std::unique_ptr<ByteSource>> {
    return std::unique_ptr<ByteSource>(new StringSource(shared));
  };
  return e;
}

Entry Entry::HostFile(std::string path, std::string host_path, uint64_t size, uint32_t mode) {
  Entry e;
  e.path = std::move(path);
  e.mode = mode;
  e.size = size;
  e.host_path = std::move(host_path);
  return e;
}

Entry Entry::Symlink(std::string path, std::string target) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kSymlink;
  e.mode = 0777;
  e.link_target = std::move(target);
  return e;
}

Entry Entry::Hardlink(std::string path, std::string target) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kHardlink;
  e.link_target = std::move(target);
  return e;
}

Entry Entry::Device(std::string path, EntryType type, uint32_t major, uint32_t minor,
                    uint32_t mode) {
  Entry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = mode;
  e.dev_major = major;
  e.dev_minor = minor;
  return e;
}

Entry Entry::Fifo(std::string path, uint32_t mode) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kFifo;
  e.mode = mode;
  return e;
}

Entry Entry::Whiteout(std::string path) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kWhiteout;
  return e;
}

Entry Entry::Opaque(std::string dir) {
  Entry e;
  e.path = std::move(dir);
  e.type = EntryType::kOpaqueWhiteout;
  return e;
}

// ---- paths ----

Result<std::string> CleanImagePath(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) {
    return Status(Code::kInvalidArgument, "path contains a NUL byte");
  }
  std::string out;
  for (std::string_view c : SplitPath(path)) {
    if (c == ".") continue;
    if (c == "..") {
      return Status(Code::kInvalidArgument, "path \"" + std::string(path) + "\" contains \"..\"");
    }
    if (!out.empty()) out += '/';
    out += c;
  }
  if (out.empty()) {
    return Status(Code::kInvalidArgument, "path \"" + std::string(path) + "\" names the root");
  }
  return out;
}

Result<std::optional<int64_t>> SourceDateEpochFromEnv() {
  const char* v = std::getenv("SOURCE_DATE_EPOCH");
  if (!v || !*v) return std::optional<int64_t>();
  char* end = nullptr;
  errno = 0;
  long long t = std::strtoll(v, &end, 10);
  if (errno != 0 || *end != '\0' || t < 0) {
    return Status(
        Code::kInvalidArgument,
        "SOURCE_DATE_EPOCH must be a non-negative integer, got \"" + std::string(v) + "\"");
  }
  return std::optional<int64_t>(t);
}

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueName = ".wh..wh..opq";

// Path order by component: "a" < "a/b" < "a-b". Sorting with '/' as the
// smallest byte keeps every directory right before its contents.
bool PathLess(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = a[i] == '/' ? 0 : static_cast<unsigned char>(a[i]);
    unsigned char y = b[i] == '/' ? 0 : static_cast<unsigned char>(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

std::string Base(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string Parent(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? std::string() : p.substr(0, s + 1);  // with the slash
}

// One tar entry to write: its name and where its metadata and content come
// from (for hard-link groups, possibly another Entry than the one listed at
// this path).
struct Planned {
  std::string name;
  const Entry* meta = nullptr;
  bool link = false;  // a hard link to `link_to`
  std::string link_to;
};

Status EntryError(const Entry& e, const std::string& what) {
  return Status(Code::kInvalidArgument, "layer entry \"" + e.path + "\": " + what);
}

Result<std::vector<Planned>> Plan(const std::vector<Entry>& entries) {
  std::vector<Planned> plan;
  plan.reserve(entries.size());
  std::map<std::string, size_t> regular;  // cleaned path -> index in `entries`
  std::vector<std::string> cleaned(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    Result<std::string> p = CleanImagePath(e.path);
    if (!p.ok()) return EntryError(e, p.status().message());
    cleaned[i] = *p;
    std::string base = Base(*p);
    bool marker = e.type == EntryType::kWhiteout || e.type == EntryType::kOpaqueWhiteout;
    if (base.compare(0, kWhiteoutPrefix.size(), kWhiteoutPrefix) == 0) {
      return EntryError(e, "names starting with \".wh.\" are reserved for whiteouts");
    }
    if (e.type == EntryType::kRegular) regular[*p] = i;
    if (e.type == EntryType::kSymlink && e.link_target.empty()) {
      return EntryError(e, "symlink without a target");
    }
    if (e.type == EntryType::kHardlink) continue;  // planned below, with its group
    Planned pl;
    pl.meta = &e;
    if (!marker) {
      pl.name = *p;
    } else if (e.type == EntryType::kWhiteout) {
      pl.name = Parent(*p) + std::string(kWhiteoutPrefix) + base;
    } else {
      pl.name = *p + "/" + std::string(kOpaqueName);
    }
    plan.push_back(std::move(pl));
  }

  // Hard links: each group (a regular entry and the links to it) is written
  // as content at the group's first path in tar order and links to it at the
  // others, so a reader always meets the target before the link.
  std::map<size_t, std::vector<std::string>> groups;  // regular index -> link paths
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.type != EntryType::kHardlink) continue;
    Result<std::string> t = CleanImagePath(e.link_target);
    if (!t.ok()) return EntryError(e, "hard link target: " + t.status().message());
    auto it = regular.find(*t);
    if (it == regular.end()) {
      return EntryError(
          e, "hard link target \"" + e.link_target + "\" is not a regular file of this layer");
    }
    groups[it->second].push_back(cleaned[i]);
  }
  if (!groups.empty()) {
    std::map<std::string, size_t> by_name;
    for (size_t i = 0; i < plan.size(); ++i) by_name[plan[i].name] = i;
    for (auto& [ri, links] : groups) {
      std::string first = cleaned[ri];
      for (const std::string& l : links) {
        if (PathLess(l, first)) first = l;
      }
      size_t at = by_name[cleaned[ri]];
      plan[at].link = cleaned[ri] != first;
      plan[at].link_to = first;
      for (const std::string& l : links) {
        Planned pl;
        pl.name = l;
        pl.meta = &entries[ri];
        pl.link = l != first;
        pl.link_to = first;
        plan.push_back(std::move(pl));
      }
    }
  }

  std::sort(plan.begin(), plan.end(),
            [](const Planned& a, const Planned& b) { return PathLess(a.name, b.name); });
  for (size_t i = 1; i < plan.size(); ++i) {
    if (plan[i].name == plan[i - 1].name) {
      return Status(Code::kInvalidArgument, "two layer entries for \"" + plan[i].name + "\"");
    }
  }
  return plan;
}

int64_t MtimeFor(const Entry& e, const LayerOptions& o) {
  if (!o.preserve_mtime) return o.source_date_epoch.value_or(0);
  int64_t t = e.mtime.value_or(o.source_date_epoch.value_or(0));
  if (o.source_date_epoch) t = std::min(t, *o.source_date_epoch);
  return std::max<int64_t>(t, 0);
}

// Everything the libarchive write callback needs: the diff ID hasher and the
// compressor it feeds.
struct TarSink {
  Digester diff_id;
  Compressor* compressor = nullptr;
  Status error;
};

la_ssize_t TarWrite(struct archive*, void* ctx, const void* buf, size_t n) {
  auto* s = static_cast<TarSink*>(ctx);
  s->diff_id.Update(buf, n);
  s->error = s->compressor->Write(static_cast<const char*>(buf), n);
  return s->error.ok() ? static_cast<la_ssize_t>(n) : -1;
}

class TarWriter {
 public:
  explicit TarWriter(TarSink* sink)
      : sink_(sink), a_(archive_write_new()), e_(archive_entry_new()) {}
  ~TarWriter() {
    archive_entry_free(e_);
    archive_write_free(a_);
  }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  Status Open() {
    archive_write_set_format_pax(a_);
    // xattrs as SCHILY.xattr.* only (what GNU tar, Go and Python read), not
    // also as LIBARCHIVE.xattr.*.
    archive_write_set_option(a_, "pax", "xattrheader", "SCHILY");
    // Unblocked: the archive ends after its two zero blocks, as Go's
    // archive/tar writes it, instead of being padded to 10 KiB records.
    archive_write_set_bytes_per_block(a_, 0);
    if (archive_write_open(a_, sink_, nullptr, TarWrite, nullptr) != ARCHIVE_OK)
      return Error("open");
    return Status::Ok();
  }

  Status Add(const Planned& p, const LayerOptions& o, std::vector<char>& buf) {
    const Entry& e = *p.meta;
    archive_entry_clear(e_);
    archive_entry_copy_pathname(e_, p.name.c_str());
    archive_entry_set_mtime(e_, MtimeFor(e, o), 0);
    bool marker = e.type == EntryType::kWhiteout || e.type == EntryType::kOpaqueWhiteout;
    if (marker) {
      // image-spec: whiteouts are empty regular files; their metadata carries
      // no meaning, so it is fixed.
      archive_entry_set_filetype(e_, AE_IFREG);
      archive_entry_set_perm(e_, 0);
      archive_entry_set_size(e_, 0);
      return WriteHeader(p.name);
    }
    archive_entry_set_perm(e_, e.mode & 07777);
    archive_entry_set_uid(e_, e.uid);
    archive_entry_set_gid(e_, e.gid);
    if (!e.uname.empty()) archive_entry_copy_uname(e_, e.uname.c_str());
    if (!e.gname.empty()) archive_entry_copy_gname(e_, e.gname.c_str());
    std::vector<std::pair<std::string, std::string>> xattrs = e.xattrs;
    std::sort(xattrs.begin(), xattrs.end());
    for (const auto& [k, v] : xattrs)
      archive_entry_xattr_add_entry(e_, k.c_str(), v.data(), v.size());
    if (p.link) {
      archive_entry_set_filetype(e_, AE_IFREG);
      archive_entry_copy_hardlink(e_, p.link_to.c_str());
      archive_entry_set_size(e_, 0);
      return WriteHeader(p.name);
    }
    switch (e.type) {
      case EntryType::kDirectory:
        archive_entry_set_filetype(e_, AE_IFDIR);
        break;
      case EntryType::kSymlink:
        archive_entry_set_filetype(e_, AE_IFLNK);
        archive_entry_copy_symlink(e_, e.link_target.c_str());
        break;
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice:
        archive_entry_set_filetype(e_, e.type == EntryType::kCharDevice ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdevmajor(e_, e.dev_major);
        archive_entry_set_rdevminor(e_, e.dev_minor);
        break;
      case EntryType::kFifo:
        archive_entry_set_filetype(e_, AE_IFIFO);
        break;
      case EntryType::kRegular:
      case EntryType::kHardlink:  // the group's content entry
        archive_entry_set_filetype(e_, AE_IFREG);
        archive_entry_set_size(e_, static_cast<la_int64_t>(e.size));
        HOIST_RETURN_IF_ERROR(WriteHeader(p.name));
        return CopyContent(e, buf);
      case EntryType::kWhiteout:
      case EntryType::kOpaqueWhiteout:
        break;  // handled above
    }
    return WriteHeader(p.name);
  }

  Status Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return Error("close");
    return Status::Ok();
  }

 private:
  Status WriteHeader(const std::string& name) {
    // ARCHIVE_WARN: a name that is not UTF-8 went out with hdrcharset=BINARY.
    if (archive_write_header(a_, e_) < ARCHIVE_WARN) return Error("header for \"" + name + "\"");
    return Status::Ok();
  }

  Status CopyContent(const Entry& e, std::vector<char>& buf) {
    if (e.size == 0 && !e.open && e.host_path.empty()) return Status::Ok();
    Result<std::unique_ptr<ByteSource>> src = Status(Code::kInternal, "");
    if (e.open) {
      src = e.open();
    } else if (!e.host_path.empty()) {
      Result<std::unique_ptr<store::FileSource>> f = store::OpenFileSource(e.host_path);
      if (f.ok()) {
        src = std::unique_ptr<ByteSource>(std::move(*f));
      } else {
        src = f.status();
      }
    } else {
      return EntryError(e, "regular file without a content source");
    }
    if (!src.ok()) return src.status();
    uint64_t done = 0;
    while (done < e.size) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.size - done));
      Result<size_t> n = (*src)->Read(buf.data(), want);
      if (!n.ok()) return n.status();
      if (*n == 0) {
        return EntryError(e, "content ended after " + std::to_string(done) + " of " +
                                 std::to_string(e.size) + " bytes (file changed?)");
      }
      if (archive_write_data(a_, buf.data(), *n) < 0) return Error("data of \"" + e.path + "\"");
      done += *n;
    }
    // A source longer than declared would be silently cut: refuse it.
    Result<size_t> extra = (*src)->Read(buf.data(), 1);
    if (!extra.ok()) return extra.status();
    if (*extra != 0) {
      return EntryError(
          e, "content is longer than " + std::to_string(e.size) + " bytes (file changed?)");
    }
    return Status::Ok();
  }

  Status Error(const std::string& what) {
    if (!sink_->error.ok()) return sink_->error;
    const char* msg = archive_error_string(a_);
    return Status(Code::kIo, "tar " + what + ": " + (msg ? msg : "libarchive error"));
  }

  TarSink* sink_;
  struct archive* a_;
  struct archive_entry* e_;
};

struct TarResult {
  Digest diff_id;
  uint64_t tar_size;
  uint64_t entries;
};

Result<TarResult> WriteCompressedTar(const std::vector<Entry>& entries, const LayerOptions& options,
                                     ByteSink* out) {
  Result<std::vector<Planned>> plan = Plan(entries);
  if (!plan.ok()) return plan.status();
  Result<std::unique_ptr<Compressor>> c = NewCompressor(options.compress, out);
  if (!c.ok()) return c.status();
  ScopedUtf8Locale utf8;
  TarSink sink;
  sink.compressor = c->get();
  TarWriter tar(&sink);
  HOIST_RETURN_IF_ERROR(tar.Open());
  std::vector<char> buf(size_t{1} << 20);
  for (const Planned& p : *plan) HOIST_RETURN_IF_ERROR(tar.Add(p, options, buf));
  HOIST_RETURN_IF_ERROR(tar.Close());
  HOIST_RETURN_IF_ERROR((*c)->Finish());
  return TarResult{sink.diff_id.Current(), sink.diff_id.bytes(), plan->size()};
}

class HashingSink : public ByteSink {
 public:
  explicit HashingSink(ByteSink* next) : next_(next) {}
  Status Write(const char* data, size_t n) override {
    digester_.Update(data, n);
    return next_->Write(data, n);
  }
  const Digester& digester() const { return digester_; }

 private:
  ByteSink* next_;
  Digester digester_;
};

class BlobSink : public ByteSink {
 public:
  explicit BlobSink(store::BlobWriter* w) : w_(w) {}
  Status Write(const char* data, size_t n) override { return w_->Write(data, n); }

 private:
  store::BlobWriter* w_;
};

}  // namespace

Result<LayerDescriptor> WriteLayer(std::vector<Entry> entries, const LayerOptions& options,
                                   ByteSink& out) {
  HashingSink hashed(&out);
  Result<TarResult> r = WriteCompressedTar(entries, options, &hashed);
  if (!r.ok()) return r.status();
  return LayerDescriptor{hashed.digester().Current(),
                         r->diff_id,
                         hashed.digester().bytes(),
                         r->tar_size,
                         std::string(LayerMediaType(options.compress.compression)),
                         r->entries};
}

Result<LayerDescriptor> WriteLayerToStore(std::vector<Entry> entries, const LayerOptions& options,
                                          store::ContentStore& store) {
  Result<std::unique_ptr<store::BlobWriter>> w = store.NewWriter();
  if (!w.ok()) return w.status();
  BlobSink sink(w->get());
  Result<TarResult> r = WriteCompressedTar(entries, options, &sink);
  if (!r.ok()) return r.status();  // the writer's destructor drops the partial blob
  uint64_t size = (*w)->size();
  Result<Digest> d = (*w)->Commit();
  if (!d.ok()) return d.status();
  LayerDescriptor desc{*d,
                       r->diff_id,
                       size,
                       r->tar_size,
                       std::string(LayerMediaType(options.compress.compression)),
                       r->entries};
  HOIST_RETURN_IF_ERROR(store.PutLayerInfo(
      store::LayerInfo{desc.digest, desc.diff_id, desc.media_type, desc.size, desc.tar_size}));
  return desc;
}

}  // namespace hoist::layer
