#include "builder/transfer/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "builder/store/file_io.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/verify.h"
#include "common/media_types.h"

namespace hoist::transfer {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxJsonBytes = 64 << 20;

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  static Result<std::unique_ptr<TempDir>> Make(const std::string& pattern_prefix) {
    std::string p = pattern_prefix + "XXXXXX";
    if (::mkdtemp(p.data()) == nullptr) return ErrnoStatus("mkdtemp", p);
    return std::make_unique<TempDir>(p);
  }
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string TmpRoot() {
  const char* t = std::getenv("TMPDIR");
  return t != nullptr && *t != '\0' ? t : "/tmp";
}

std::string ArchiveError(struct archive* a, const std::string& what) {
  const char* e = archive_error_string(a);
  return what + ": " + (e != nullptr ? e : "libarchive error");
}

// A tar member name made relative and safe; empty when it must be refused.
std::string SafeMemberPath(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p.empty() || p.front() == '/') return {};
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    std::string comp =
        p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (comp == "..") return {};
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return p;
}

// Opens DIR/REL for reading when, links resolved, it stays inside DIR.
Result<int> OpenInside(const std::string& dir, const std::string& rel) {
  char root[PATH_MAX], full[PATH_MAX];
  if (::realpath(dir.c_str(), root) == nullptr) return ErrnoStatus("realpath", dir);
  std::string path = dir + "/" + rel;
  if (::realpath(path.c_str(), full) == nullptr) return ErrnoStatus("open", rel);
  std::string r = root, f = full;
  if (f.rfind(r + "/", 0) != 0) {
    return Status(Code::kInvalidArgument, "archive member " + rel + " points outside the archive");
  }
  int fd = ::open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", rel);
  return fd;
}

// A source that owns the extraction directory of its inner source.
class ExtractedSource : public ImageSource {
 public:
  ExtractedSource(std::unique_ptr<TempDir> dir, std::unique_ptr<ImageSource> inner)
      : dir_(std::move(dir)), inner_(std::move(inner)) {}
  ~ExtractedSource() override { inner_.reset(); }
  std::string Name() const override { return inner_->Name(); }
  Result<Manifest> TopManifest() override { return inner_->TopManifest(); }
  Result<Manifest> ChildManifest(const Descriptor& d) override { return inner_->ChildManifest(d); }
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override {
    return inner_->OpenBlob(d);
  }

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ImageSource> inner_;
};

// docker save's legacy shape: a schema2 manifest made from manifest.json.
class LegacyDockerSource : public ImageSource {
 public:
  static Result<std::unique_ptr<ImageSource>> Open(const std::string& dir,
                                                   const std::optional<Reference>& ref,
                                                   std::string name) {
    Result<std::string> text = ReadSmallFile(dir + "/manifest.json", kMaxJsonBytes);
    if (!text.ok()) {
      return Status(Code::kInvalidArgument, name + ": not a docker archive (no manifest.json)");
    }
    json list = json::parse(*text, nullptr, false);
    if (!list.is_array() || list.empty()) {
      return Status(Code::kManifestInvalid, name + ": malformed manifest.json");
    }
    const json* entry = nullptr;
    if (!ref) {
      if (list.size() > 1) {
        return Status(Code::kInvalidArgument, name + " holds " + std::to_string(list.size()) +
                                                  " images; name one with :REF");
      }
      entry = &list[0];
    } else {
      for (const json& e : list) {
        if (!e.contains("RepoTags") || !e["RepoTags"].is_array()) continue;
        for (const json& t : e["RepoTags"]) {
          if (!t.is_string()) continue;
          Result<Reference> r = Reference::Parse(t.get<std::string>());
          if (r.ok() && r->String() == ref->String()) entry = &e;
        }
      }
      if (entry == nullptr && list.size() == 1) entry = &list[0];
      if (entry == nullptr) {
        return Status(Code::kManifestUnknown, name + ": no image tagged " + ref->Familiar());
      }
    }
    if (!entry->is_object() || !(*entry).contains("Config") || !(*entry)["Config"].is_string() ||
        !(*entry).contains("Layers") || !(*entry)["Layers"].is_array()) {
      return Status(Code::kManifestInvalid, name + ": malformed manifest.json entry");
    }
    auto src = std::unique_ptr<LegacyDockerSource>(new LegacyDockerSource(dir, std::move(name)));
    Result<Descriptor> config =
        src->Add((*entry)["Config"].get<std::string>(), std::string(media::kDockerConfig));
    if (!config.ok()) return config.status();
    json m = {{"schemaVersion", 2},
              {"mediaType", media::kDockerManifest},
              {"config", Describe(*config)},
              {"layers", json::array()}};
    for (const json& l : (*entry)["Layers"]) {
      if (!l.is_string()) return Status(Code::kManifestInvalid, src->name_ + ": bad layer entry");
      Result<Descriptor> d = src->Add(l.get<std::string>(), "");
      if (!d.ok()) return d.status();
      m["layers"].push_back(Describe(*d));
    }
    Result<Manifest> manifest = MakeManifest(std::string(media::kDockerManifest), m.dump(3));
    if (!manifest.ok()) return manifest.status();
    src->manifest_ = std::move(*manifest);
    return std::unique_ptr<ImageSource>(std::move(src));
  }

  std::string Name() const override { return name_; }
  Result<Manifest> TopManifest() override { return manifest_; }
  Result<Manifest> ChildManifest(const Descriptor& d) override {
    return Status(Code::kManifestUnknown, name_ + ": no manifest " + d.digest.str());
  }
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override {
    auto it = files_.find(d.digest.str());
    if (it == files_.end())
      return Status(Code::kBlobUnknown, name_ + ": no blob " + d.digest.str());
    Result<int> fd = OpenInside(dir_, it->second);
    if (!fd.ok()) return fd.status();
    return std::unique_ptr<ByteSource>(new store::FileSource(store::UniqueFd(*fd), name_));
  }

 private:
  LegacyDockerSource(std::string dir, std::string name)
      : dir_(std::move(dir)), name_(std::move(name)) {}

  static json Describe(const Descriptor& d) {
    return {{"mediaType", d.media_type}, {"size", d.size}, {"digest", d.digest.str()}};
  }

  // Hashes the member `rel` and records it; a layer's type follows its bytes.
  Result<Descriptor> Add(const std::string& rel_in, std::string media_type) {
    std::string rel = SafeMemberPath(rel_in);
    if (rel.empty()) return Status(Code::kInvalidArgument, name_ + ": unsafe path " + rel_in);
    Result<int> fd = OpenInside(dir_, rel);
    if (!fd.ok()) return Status(fd.status().code(), name_ + ": " + fd.status().message());
    store::FileSource src(store::UniqueFd(*fd), name_);
    Digester h;
    std::vector<char> buf(1 << 20);
    unsigned char magic[4] = {0, 0, 0, 0};
    while (true) {
      Result<size_t> got = src.Read(buf.data(), buf.size());
      if (!got.ok()) return got.status();
      if (*got == 0) break;
      if (h.bytes() == 0) std::copy_n(buf.data(), std::min<size_t>(4, *got), magic);
      h.Update(buf.data(), *got);
    }
    if (media_type.empty()) {
      if (magic[0] == 0x1f && magic[1] == 0x8b) {
        media_type = media::kDockerLayerGzip;
      } else if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
        media_type = "application/vnd.docker.image.rootfs.diff.tar.zstd";
      } else {
        media_type = "application/vnd.docker.image.rootfs.diff.tar";
      }
    }
    Descriptor d;
    d.media_type = media_type;
    d.digest = h.Current();
    d.size = static_cast<int64_t>(h.bytes());
    files_[d.digest.str()] = rel;
    return d;
  }

  std::string dir_;
  std::string name_;
  std::map<std::string, std::string> files_;  // digest -> member path
  Manifest manifest_;
};

// WriteTar to a temporary name beside FILE, renamed to FILE when whole.
Status WriteTarAtomic(const std::string& dir, const std::string& file) {
  std::string tmp = file + ".tmp-" + std::to_string(::getpid());
  Status st = WriteTar(dir, tmp);
  if (st.ok() && ::rename(tmp.c_str(), file.c_str()) != 0) st = ErrnoStatus("rename", file);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

// Checks that FILE can be written (not a directory, a writable parent).
Status CheckWritable(const std::string& file, const std::string& name) {
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument, name + ": " + file + " is a directory");
  }
  std::string parent = file.find('/') == std::string::npos ? "." : file.substr(0, file.rfind('/'));
  if (parent.empty()) parent = "/";
  if (::access(parent.c_str(), W_OK) != 0) return ErrnoStatus("write into", parent);
  return Status::Ok();
}

// One manifest.json entry (what `docker load` reads) for the image
// manifest `top` of a layout, its blobs under blobs/<alg>/<hex>.
Result<json> DockerManifestEntry(const Manifest& top, const std::vector<Reference>& tags) {
  Result<ManifestContents> c = ParseManifest(top);
  if (!c.ok()) return c.status();
  if (!c->config) return Status(Code::kManifestInvalid, "a docker archive needs image manifests");
  auto path = [](const Descriptor& d) {
    return "blobs/" + std::string(d.digest.algorithm_name()) + "/" + d.digest.hex();
  };
  json entry = {
      {"Config", path(*c->config)}, {"RepoTags", json::array()}, {"Layers", json::array()}};
  for (const Reference& t : tags) {
    if (!t.tag().empty()) entry["RepoTags"].push_back(t.Familiar());
  }
  for (const Descriptor& l : c->layers) entry["Layers"].push_back(path(l));
  return entry;
}

// The archive sinks: blobs and manifests go to a staged OCI layout; what
// Commit makes of it is each sink's.
class LayoutBackedSink : public ImageSink {
 public:
  explicit LayoutBackedSink(std::unique_ptr<LayoutSink> layout) : layout_(std::move(layout)) {}
  std::string Name() const override { return layout_->Name(); }
  Result<bool> HasBlob(const Descriptor& d) override { return layout_->HasBlob(d); }
  Status PutBlob(const Descriptor& d, const BlobOpener& open) override {
    return layout_->PutBlob(d, open);
  }
  Status PutManifest(const Manifest& m, bool top) override { return layout_->PutManifest(m, top); }

 protected:
  std::unique_ptr<LayoutSink> layout_;
};

// An oci-archive: Commit tars the layout to the file. (docker-archive:
// DockerArchiveWriter.)
class ArchiveSink : public LayoutBackedSink {
 public:
  ArchiveSink(std::string file, std::unique_ptr<TempDir> staging,
              std::unique_ptr<LayoutSink> layout)
      : LayoutBackedSink(std::move(layout)), file_(std::move(file)), staging_(std::move(staging)) {}
  ~ArchiveSink() override { layout_.reset(); }  // before its staging directory goes
  Status Commit() override {
    HOIST_RETURN_IF_ERROR(layout_->Commit());
    return WriteTarAtomic(layout_->write_dir(), file_);
  }

 private:
  std::string file_;
  std::unique_ptr<TempDir> staging_;
};

Result<std::unique_ptr<ImageSink>> OpenArchiveSink(const std::string& file, const std::string& tag,
                                                   std::string name) {
  HOIST_RETURN_IF_ERROR(CheckWritable(file, name));
  Result<std::unique_ptr<TempDir>> staging = TempDir::Make(file + ".hoist-tmp-");
  if (!staging.ok()) return staging.status();
  Result<std::unique_ptr<LayoutSink>> layout =
      LayoutSink::Open((*staging)->path() + "/layout", tag, name);
  if (!layout.ok()) return layout.status();
  return std::unique_ptr<ImageSink>(new ArchiveSink(file, std::move(*staging), std::move(*layout)));
}

Result<std::unique_ptr<TempDir>> Extract(const std::string& file, const std::string& name) {
  if (::access(file.c_str(), R_OK) != 0) {
    Status st = ErrnoStatus("open", file);
    return Status(st.code(), name + ": " + st.message());
  }
  Result<std::unique_ptr<TempDir>> dir = TempDir::Make(TmpRoot() + "/hoist-archive-");
  if (!dir.ok()) return dir.status();
  Status st = ExtractTar(file, (*dir)->path());
  if (!st.ok()) return Status(st.code(), name + ": " + st.message());
  return dir;
}

}  // namespace

Status ExtractTar(const std::string& file, const std::string& dir) {
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  Status result;
  if (archive_read_open_filename(a, file.c_str(), 1 << 20) != ARCHIVE_OK) {
    result = Status(Code::kInvalidArgument, ArchiveError(a, "reading " + file));
    archive_read_free(a);
    return result;
  }
  std::vector<char> buf(1 << 20);
  struct archive_entry* e = nullptr;
  while (result.ok()) {
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      result = Status(Code::kInvalidArgument, ArchiveError(a, "reading " + file));
      break;
    }
    const char* raw = archive_entry_pathname(e);
    std::string rel = SafeMemberPath(raw != nullptr ? raw : "");
    if (rel.empty()) {
      if (raw != nullptr && (std::string(raw) == "." || std::string(raw) == "./")) continue;
      result = Status(Code::kInvalidArgument, "archive " + file + " has an unsafe member \"" +
                                                  std::string(raw ? raw : "") + "\"");
      break;
    }
    std::string path = dir + "/" + rel;
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const char* hardlink = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (hardlink != nullptr) {
      std::string target = SafeMemberPath(hardlink);
      if (target.empty() || ::link((dir + "/" + target).c_str(), path.c_str()) != 0) {
        result = Status(Code::kInvalidArgument, "archive " + file + ": bad hard link " + rel);
      }
    } else if (type == AE_IFDIR) {
      fs::create_directories(path, ec);
    } else if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr || ::symlink(target, path.c_str()) != 0) {
        result = Status(Code::kInvalidArgument, "archive " + file + ": bad symlink " + rel);
      }
    } else if (type == AE_IFREG) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        result = ErrnoStatus("create", path);
        break;
      }
      while (true) {
        la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
        if (n < 0) {
          result = Status(Code::kInvalidArgument, ArchiveError(a, "reading " + file));
          break;
        }
        if (n == 0) break;
        if (::write(fd, buf.data(), static_cast<size_t>(n)) != n) {
          result = ErrnoStatus("write", path);
          break;
        }
      }
      ::close(fd);
    }
  }
  archive_read_free(a);
  return result;
}

Status WriteTar(const std::string& dir, const std::string& file) {
  std::vector<fs::path> entries;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    entries.push_back(it->path());
  }
  if (ec) return Status(Code::kIo, "listing " + dir + ": " + ec.message());
  std::vector<std::string> rels;
  for (const fs::path& p : entries) rels.push_back(fs::relative(p, dir).generic_string());
  std::sort(rels.begin(), rels.end());

  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  Status result;
  if (archive_write_open_filename(a, file.c_str()) != ARCHIVE_OK) {
    result = Status(Code::kIo, ArchiveError(a, "creating " + file));
    archive_write_free(a);
    return result;
  }
  std::vector<char> buf(1 << 20);
  for (const std::string& rel : rels) {
    std::string path = dir + "/" + rel;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      result = ErrnoStatus("stat", path);
      break;
    }
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, rel.c_str());
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, st.st_size);
    }
    if (archive_write_header(a, e) != ARCHIVE_OK) {
      result = Status(Code::kIo, ArchiveError(a, "writing " + file));
    }
    archive_entry_free(e);
    if (!result.ok()) break;
    if (S_ISREG(st.st_mode)) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        result = ErrnoStatus("open", path);
        break;
      }
      while (result.ok()) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
          result = ErrnoStatus("read", path);
        } else if (n == 0) {
          break;
        } else if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) != n) {
          result = Status(Code::kIo, ArchiveError(a, "writing " + file));
        }
      }
      ::close(fd);
      if (!result.ok()) break;
    }
  }
  if (archive_write_close(a) != ARCHIVE_OK && result.ok()) {
    result = Status(Code::kIo, ArchiveError(a, "writing " + file));
  }
  archive_write_free(a);
  if (result.ok()) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  return result;
}

Result<std::unique_ptr<ImageSource>> OpenOciArchiveSource(const std::string& file,
                                                          const std::string& tag,
                                                          std::string name) {
  Result<std::unique_ptr<TempDir>> dir = Extract(file, name);
  if (!dir.ok()) return dir.status();
  Result<std::unique_ptr<LayoutSource>> layout = LayoutSource::Open((*dir)->path(), tag, name);
  if (!layout.ok()) return layout.status();
  return std::unique_ptr<ImageSource>(new ExtractedSource(std::move(*dir), std::move(*layout)));
}

Result<std::unique_ptr<ImageSink>> OpenOciArchiveSink(const std::string& file,
                                                      const std::string& tag, std::string name) {
  return OpenArchiveSink(file, tag, std::move(name));
}

Result<std::unique_ptr<ImageSource>> OpenDockerArchiveSource(const std::string& file,
                                                             const std::optional<Reference>& ref,
                                                             std::string name) {
  Result<std::unique_ptr<TempDir>> dir = Extract(file, name);
  if (!dir.ok()) return dir.status();
  const std::string& path = (*dir)->path();
  std::unique_ptr<ImageSource> inner;
  if (::access((path + "/index.json").c_str(), F_OK) == 0 &&
      ::access((path + "/oci-layout").c_str(), F_OK) == 0) {
    Result<std::unique_ptr<LayoutSource>> layout =
        LayoutSource::Open(path, ref ? ref->tag() : std::string(), name);
    if (!layout.ok() && ref) layout = LayoutSource::Open(path, "", name);
    if (layout.ok()) inner = std::move(*layout);
  }
  if (!inner) {
    Result<std::unique_ptr<ImageSource>> legacy = LegacyDockerSource::Open(path, ref, name);
    if (!legacy.ok()) return legacy.status();
    inner = std::move(*legacy);
  }
  return std::unique_ptr<ImageSource>(new ExtractedSource(std::move(*dir), std::move(inner)));
}

class DockerArchiveWriter::Impl {
 public:
  std::string file, name;
  std::unique_ptr<TempDir> staging;
  std::vector<json> entries;
  std::string layout_dir() const { return staging->path() + "/layout"; }
};

namespace {

// One image of a DockerArchiveWriter: its blobs go to the shared layout;
// Commit adds its manifest.json entry, and commits the writer too when the
// sink owns it (a docker-archive of this one image).
class WriterImageSink : public LayoutBackedSink {
 public:
  WriterImageSink(DockerArchiveWriter::Impl& w, std::unique_ptr<LayoutSink> layout,
                  std::vector<Reference> tags)
      : LayoutBackedSink(std::move(layout)), w_(w), tags_(std::move(tags)) {}
  ~WriterImageSink() override { layout_.reset(); }  // before an owned writer's staging goes
  void Own(std::unique_ptr<DockerArchiveWriter> writer) { owner_ = std::move(writer); }
  bool SupportsIndex() const override { return false; }
  Status Commit() override {
    HOIST_RETURN_IF_ERROR(layout_->Commit());
    Result<json> entry = DockerManifestEntry(*layout_->top(), tags_);
    if (!entry.ok()) return entry.status();
    w_.entries.push_back(std::move(*entry));
    return owner_ ? owner_->Commit() : Status::Ok();
  }

 private:
  std::unique_ptr<DockerArchiveWriter> owner_;
  DockerArchiveWriter::Impl& w_;
  std::vector<Reference> tags_;
};

}  // namespace

DockerArchiveWriter::DockerArchiveWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DockerArchiveWriter::~DockerArchiveWriter() = default;

Result<std::unique_ptr<DockerArchiveWriter>> DockerArchiveWriter::Open(const std::string& file,
                                                                       std::string name) {
  HOIST_RETURN_IF_ERROR(CheckWritable(file, name));
  Result<std::unique_ptr<TempDir>> staging = TempDir::Make(file + ".hoist-tmp-");
  if (!staging.ok()) return staging.status();
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->name = std::move(name);
  impl->staging = std::move(*staging);
  return std::unique_ptr<DockerArchiveWriter>(new DockerArchiveWriter(std::move(impl)));
}

Result<std::unique_ptr<ImageSink>> DockerArchiveWriter::Add(std::vector<Reference> tags,
                                                            const std::string& index_tag) {
  Result<std::unique_ptr<LayoutSink>> layout =
      LayoutSink::Open(impl_->layout_dir(), index_tag, impl_->name);
  if (!layout.ok()) return layout.status();
  return std::unique_ptr<ImageSink>(
      new WriterImageSink(*impl_, std::move(*layout), std::move(tags)));
}

Status DockerArchiveWriter::Commit() {
  if (impl_->entries.empty()) return Status(Code::kInternal, impl_->name + ": no image to write");
  const std::string dir = impl_->layout_dir();
  HOIST_RETURN_IF_ERROR(WriteFileAtomic(dir + "/manifest.json", json(impl_->entries).dump()));
  return WriteTarAtomic(dir, impl_->file);
}

Result<std::unique_ptr<ImageSink>> OpenDockerArchiveSink(const std::string& file,
                                                         const std::optional<Reference>& ref,
                                                         std::string name) {
  Result<std::unique_ptr<DockerArchiveWriter>> writer =
      DockerArchiveWriter::Open(file, std::move(name));
  if (!writer.ok()) return writer.status();
  std::vector<Reference> tags;
  if (ref) tags.push_back(*ref);
  Result<std::unique_ptr<ImageSink>> image =
      (*writer)->Add(std::move(tags), ref ? ref->tag() : std::string());
  if (!image.ok()) return image.status();
  // Add makes a WriterImageSink; this one owns its writer.
  static_cast<WriterImageSink*>(image->get())->Own(std::move(*writer));
  return image;
}

}  // namespace hoist::transfer
