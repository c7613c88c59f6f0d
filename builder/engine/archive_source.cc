#include "builder/engine/archive_source.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>

namespace hoist::engine {
namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { ::archive_read_free(a); }
};

}  // namespace

Result<bool> IsTarArchive(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, path + ": no such file");
    return ErrnoStatus("stat", path);
  }
  if (!S_ISREG(st.st_mode)) return false;
  std::unique_ptr<struct archive, ArchiveFree> a(::archive_read_new());
  ::archive_read_support_filter_gzip(a.get());
  ::archive_read_support_filter_bzip2(a.get());
  ::archive_read_support_filter_xz(a.get());
  ::archive_read_support_filter_zstd(a.get());
  ::archive_read_support_format_tar(a.get());
  if (::archive_read_open_filename(a.get(), path.c_str(), 64 * 1024) != ARCHIVE_OK) {
    // Not a format we read (the tar bidder refused it), or unreadable.
    if (::archive_errno(a.get()) == EACCES || ::archive_errno(a.get()) == EIO) {
      return Status(Code::kIo, path + ": " + ::archive_error_string(a.get()));
    }
    return false;
  }
  struct archive_entry* e = nullptr;
  int r = ::archive_read_next_header(a.get(), &e);
  return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

Status UnpackArchive(const std::string& path, const std::string& dir, layer::Ownership ownership,
                     const std::string& what) {
  layer::ExtractOptions o;
  o.ownership = ownership;
  o.devices = layer::Devices::kRecord;
  o.whiteouts = layer::Whiteouts::kKeep;
  Result<layer::ExtractReport> r = layer::ApplyLayerFile(path, dir, o);
  if (!r.ok()) return Status(r.status().code(), "unpacking " + what + ": " + r.status().message());
  return Status::Ok();
}

}  // namespace hoist::engine
