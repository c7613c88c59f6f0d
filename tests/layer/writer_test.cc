#include "builder/layer/writer.h"

#include <fstream>
#include <thread>

#include "layer/helpers.h"

namespace hoist::layer {
namespace {

using test::Sh;
using test::TempDir;

LayerOptions Opts(Compression c = Compression::kNone, int threads = 2) {
  LayerOptions o;
  o.compress.compression = c;
  o.compress.threads = threads;
  return o;
}

LayerDescriptor WriteTo(const std::string& path, std::vector<Entry> entries,
                        const LayerOptions& o) {
  return test::WriteLayerFile(path, std::move(entries), o);
}

// Every kind of entry, deliberately unsorted.
std::vector<Entry> AllKinds() {
  std::vector<Entry> v;
  Entry hosts = Entry::File("/etc/hosts", "127.0.0.1 localhost\n", 0644);
  hosts.uid = 1000;
  hosts.gid = 1001;
  hosts.uname = "app";
  hosts.gname = "staff";
  hosts.xattrs = {{"user.b", "2"}, {"user.a", "1"}};
  v.push_back(hosts);
  v.push_back(Entry::Dir("etc"));
  v.push_back(Entry::Symlink("bin", "usr/bin"));
  v.push_back(Entry::Hardlink("etc/hosts.link", "etc/hosts"));
  // The link sorts before its target: the writer swaps roles.
  v.push_back(Entry::File("z/target", "payload", 0600));
  v.push_back(Entry::Hardlink("a/first", "z/target"));
  v.push_back(Entry::Dir("a", 0700));
  v.push_back(Entry::Dir("z"));
  v.push_back(Entry::Device("dev/null", EntryType::kCharDevice, 1, 3, 0666));
  v.push_back(Entry::Device("dev/sda", EntryType::kBlockDevice, 8, 0, 0660));
  v.push_back(Entry::Dir("dev"));
  v.push_back(Entry::Fifo("run/fifo"));
  v.push_back(Entry::Whiteout("var/old"));
  v.push_back(Entry::Opaque("opt"));
  v.push_back(Entry::File("usr/bin/su", "#!/bin/sh\n", 04755));
  v.push_back(Entry::File("a-b", "", 0644));
  v.push_back(Entry::File("caf\xc3\xa9", "utf8 name", 0644));
  return v;
}

TEST_CASE("GNU tar lists every entry kind with its metadata", "[writer][tools]") {
  TempDir dir;
  WriteTo(dir / "l.tar", AllKinds(), Opts());
  test::Run r = Sh("LC_ALL=C tar --numeric-owner -tvf '" + dir / "l.tar" + "'");
  REQUIRE(r.code == 0);
  const char* expected =
      "drwx------ 0/0               0 1970-01-01 00:00 a/\n"
      "-rw------- 0/0               7 1970-01-01 00:00 a/first\n"
      "-rw-r--r-- 0/0               0 1970-01-01 00:00 a-b\n"
      "lrwxrwxrwx 0/0               0 1970-01-01 00:00 bin -> usr/bin\n"
      "-rw-r--r-- 0/0               9 1970-01-01 00:00 caf\\303\\251\n"
      "drwxr-xr-x 0/0               0 1970-01-01 00:00 dev/\n"
      "crw-rw-rw- 0/0             1,3 1970-01-01 00:00 dev/null\n"
      "brw-rw---- 0/0             8,0 1970-01-01 00:00 dev/sda\n"
      "drwxr-xr-x 0/0               0 1970-01-01 00:00 etc/\n"
      "-rw-r--r-- 1000/1001        20 1970-01-01 00:00 etc/hosts\n"
      "hrw-r--r-- 1000/1001         0 1970-01-01 00:00 etc/hosts.link link to etc/hosts\n"
      "---------- 0/0               0 1970-01-01 00:00 opt/.wh..wh..opq\n"
      "prw------- 0/0               0 1970-01-01 00:00 run/fifo\n"
      "-rwsr-xr-x 0/0              10 1970-01-01 00:00 usr/bin/su\n"
      "---------- 0/0               0 1970-01-01 00:00 var/.wh.old\n"
      "drwxr-xr-x 0/0               0 1970-01-01 00:00 z/\n"
      "hrw------- 0/0               0 1970-01-01 00:00 z/target link to a/first\n";
  CHECK(r.out == expected);
  // Names only where given.
  test::Run named = Sh("tar -tvf '" + dir / "l.tar" + "' etc/hosts bin");
  CHECK(named.out.find("app/staff") != std::string::npos);
  CHECK(named.out.find("0/0") != std::string::npos);  // bin: no names, numeric
}

TEST_CASE("python's tarfile reads the layer: content, xattrs, no host metadata",
          "[writer][tools]") {
  TempDir dir;
  LayerDescriptor d = WriteTo(dir / "l.tar.gz", AllKinds(), Opts(Compression::kGzip));
  CHECK(d.media_type == "application/vnd.oci.image.layer.v1.tar+gzip");
  test::Run r = Sh("python3 - '" + dir / "l.tar.gz" +
                   "' <<'EOF'\n"
                   "import sys, tarfile\n"
                   "t = tarfile.open(sys.argv[1], 'r:gz')\n"
                   "for m in t.getmembers():\n"
                   "    keys = sorted(k for k in m.pax_headers if k not in ('path',))\n"
                   "    print(m.name, m.type.decode(), oct(m.mode), m.uid, m.gid, repr(m.uname), "
                   "repr(m.gname),\n"
                   "          m.mtime, m.linkname or '-', ','.join(keys) or '-')\n"
                   "print(t.extractfile('etc/hosts').read().decode().strip())\n"
                   "print(t.extractfile('a/first').read().decode())\n"
                   "EOF");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("etc/hosts 0 0o644 1000 1001 'app' 'staff' 0 - "
                   "SCHILY.xattr.user.a,SCHILY.xattr.user.b\n") != std::string::npos);
  CHECK(r.out.find("bin 2 0o777 0 0 '' '' 0 usr/bin -\n") != std::string::npos);
  CHECK(r.out.find("café 0 0o644 0 0 '' '' 0 - -\n") != std::string::npos);  // no hdrcharset
  CHECK(r.out.find("z/target 1 0o600 0 0 '' '' 0 a/first -\n") != std::string::npos);
  CHECK(r.out.find("127.0.0.1 localhost\npayload\n") != std::string::npos);
  CHECK(r.out.find("atime") == std::string::npos);
  CHECK(r.out.find("ctime") == std::string::npos);
}

TEST_CASE("same entries give identical bytes with 1 and 4 threads, in any input order",
          "[writer][determinism]") {
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::vector<Entry> entries = AllKinds();
    entries.push_back(Entry::File("big/text", test::Pattern(3 << 20, 1, true)));
    entries.push_back(Entry::File("big/random", test::Pattern(3 << 20, 2)));
    test::StringSink a, b;
    Result<LayerDescriptor> da = WriteLayer(entries, Opts(c, 1), a);
    std::reverse(entries.begin(), entries.end());
    Result<LayerDescriptor> db = WriteLayer(entries, Opts(c, 4), b);
    REQUIRE(da.ok());
    REQUIRE(db.ok());
    CHECK(a.data() == b.data());
    CHECK(da->digest == db->digest);
    CHECK(da->diff_id == db->diff_id);
    CHECK(da->digest == DigestOf(a.data()));
    CHECK(da->size == a.data().size());
  }
}

TEST_CASE("diff ID is the sha256 of the uncompressed tar, digest of the blob", "[writer][tools]") {
  TempDir dir;
  std::vector<Entry> entries = AllKinds();
  entries.push_back(Entry::File("big", test::Pattern(2 << 20, 3, true)));
  LayerDescriptor gz = WriteTo(dir / "l.gz", entries, Opts(Compression::kGzip));
  LayerDescriptor zst = WriteTo(dir / "l.zst", entries, Opts(Compression::kZstd));
  LayerDescriptor tar = WriteTo(dir / "l.tar", entries, Opts(Compression::kNone));
  CHECK(gz.diff_id == zst.diff_id);
  CHECK(gz.diff_id == tar.diff_id);
  CHECK(tar.digest == tar.diff_id);
  CHECK(gz.digest.hex() == test::Sha256Hex(dir / "l.gz"));
  CHECK(zst.digest.hex() == test::Sha256Hex(dir / "l.zst"));
  CHECK(Sh("gzip -t '" + dir / "l.gz" + "'").code == 0);
  CHECK(Sh("zstd -q -t '" + dir / "l.zst" + "'").code == 0);
  CHECK(Sh("gzip -dc '" + dir / "l.gz" + "' | sha256sum").out.substr(0, 64) == gz.diff_id.hex());
  CHECK(Sh("zstd -q -dc '" + dir / "l.zst" + "' | sha256sum").out.substr(0, 64) ==
        gz.diff_id.hex());
  CHECK(Sh("tar -tzf '" + dir / "l.gz" + "' >/dev/null").code == 0);
  CHECK(Sh("tar --zstd -tf '" + dir / "l.zst" + "' >/dev/null").code == 0);
  CHECK(gz.tar_size == std::filesystem::file_size(dir / "l.tar"));
  CHECK(zst.media_type == "application/vnd.oci.image.layer.v1.tar+zstd");
}

TEST_CASE("mtimes: 0 by default, SOURCE_DATE_EPOCH set or clamped", "[writer]") {
  TempDir dir;
  auto mtimes = [&](const LayerOptions& o) {
    Entry old = Entry::File("old", "x");
    old.mtime = 1600000000;
    Entry young = Entry::File("young", "y");
    young.mtime = 1800000000;
    std::vector<Entry> v = {old, young, Entry::Dir("d")};
    WriteTo(dir / "t.tar", v, o);
    return Sh("python3 -c \"import tarfile,sys; print(*[m.mtime for m in "
              "tarfile.open(sys.argv[1])])\" '" +
              dir / "t.tar" + "'")
        .out;
  };
  LayerOptions o = Opts();
  CHECK(mtimes(o) == "0 0 0\n");
  o.source_date_epoch = 1700000000;
  CHECK(mtimes(o) == "1700000000 1700000000 1700000000\n");
  o.preserve_mtime = true;
  CHECK(mtimes(o) == "1700000000 1600000000 1700000000\n");  // d, old, young
  o.source_date_epoch.reset();
  CHECK(mtimes(o) == "0 1600000000 1800000000\n");
}

TEST_CASE("SOURCE_DATE_EPOCH is read from the environment", "[writer]") {
  ::setenv("SOURCE_DATE_EPOCH", "1234", 1);
  CHECK(**SourceDateEpochFromEnv() == 1234);
  ::setenv("SOURCE_DATE_EPOCH", "12x", 1);
  CHECK(SourceDateEpochFromEnv().status().code() == Code::kInvalidArgument);
  ::unsetenv("SOURCE_DATE_EPOCH");
  CHECK(!SourceDateEpochFromEnv()->has_value());
}

Status WriteOnly(std::vector<Entry> v) {
  test::StringSink s;
  return WriteLayer(std::move(v), Opts(), s).status();
}

TEST_CASE("bad entries are refused with their name", "[writer]") {
  CHECK(WriteOnly({Entry::File("a/../../etc/passwd", "x")}).code() == Code::kInvalidArgument);
  CHECK(WriteOnly({Entry::Dir("/")}).code() == Code::kInvalidArgument);
  Status dup = WriteOnly({Entry::File("a", "x"), Entry::File("./a", "y")});
  CHECK(dup.code() == Code::kInvalidArgument);
  CHECK(dup.message().find("\"a\"") != std::string::npos);
  CHECK(WriteOnly({Entry::Hardlink("l", "missing")}).code() == Code::kInvalidArgument);
  CHECK(WriteOnly({Entry::Dir("d"), Entry::Hardlink("l", "d")}).code() == Code::kInvalidArgument);
  CHECK(WriteOnly({Entry::File("d/.wh.x", "")}).code() == Code::kInvalidArgument);
  CHECK(WriteOnly({Entry::Symlink("s", "")}).code() == Code::kInvalidArgument);
  Entry shrunk = Entry::File("f", "12345");
  shrunk.size = 10;
  Status s = WriteOnly({shrunk});
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("\"f\"") != std::string::npos);
  Entry grown = Entry::File("g", "12345");
  grown.size = 3;
  CHECK(WriteOnly({grown}).code() == Code::kInvalidArgument);
  CHECK(WriteOnly({Entry::HostFile("h", "/nonexistent/file", 1)}).code() == Code::kNotFound);
}

TEST_CASE("host files stream from disk", "[writer]") {
  TempDir dir;
  std::string content = test::Pattern(3 << 20, 4, true);
  test::WriteFile(dir / "src", content);
  WriteTo(dir / "l.tar", {Entry::HostFile("data/src", dir / "src", content.size())}, Opts());
  CHECK(Sh("tar -xOf '" + dir / "l.tar" + "' data/src | cmp -s - '" + dir / "src" + "'").code == 0);
}

TEST_CASE("layers land in the content store with their record", "[writer][store]") {
  TempDir dir;
  auto st = store::ContentStore::OpenRoot(dir / "store");
  REQUIRE(st.ok());
  Result<LayerDescriptor> d = WriteLayerToStore(AllKinds(), Opts(Compression::kGzip), **st);
  REQUIRE(d.ok());
  CHECK((*st)->Has(d->digest));
  CHECK(test::Sha256Hex((*st)->Path(d->digest)) == d->digest.hex());
  Result<store::LayerInfo> info = (*st)->GetLayerInfo(d->digest);
  REQUIRE(info.ok());
  CHECK(info->diff_id == d->diff_id);
  CHECK(info->size == d->size);
  CHECK(info->media_type == d->media_type);
  // Failed writes leave nothing behind.
  Entry bad = Entry::File("f", "12345");
  bad.size = 9;
  CHECK(!WriteLayerToStore({bad}, Opts(Compression::kGzip), **st).ok());
  CHECK(std::filesystem::is_empty(dir / "store/tmp"));
}

uint64_t StatusKb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::stoull(line.substr(std::strlen(key)));
  }
  return 0;
}

// Streams 256 MiB through a one-file layer; peak RSS must stay small.
TEST_CASE("a 256 MiB layer streams in bounded memory", "[writer][memory]") {
  const uint64_t kSize = 256ull << 20;
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    Entry big;
    big.path = "big.bin";
    big.mode = 0644;
    big.size = kSize;
    big.open = [&]() -> Result<std::unique_ptr<ByteSource>> {
      return std::unique_ptr<ByteSource>(new test::PatternSource(kSize, 42));
    };
    class Counting : public ByteSink {
     public:
      Status Write(const char*, size_t n) override {
        bytes += n;
        return Status::Ok();
      }
      uint64_t bytes = 0;
    } sink;
    std::ofstream("/proc/self/clear_refs") << "5";  // reset the peak to the current RSS
    uint64_t before = StatusKb("VmRSS:");
    Result<LayerDescriptor> d = WriteLayer({big}, Opts(c, 4), sink);
    REQUIRE(d.ok());
    uint64_t peak = StatusKb("VmHWM:");
    INFO("compression " << CompressionName(c) << ": RSS before " << before << " kB, peak " << peak
                        << " kB");
#ifndef __SANITIZE_ADDRESS__  // ASan's quarantine keeps freed blocks resident
    CHECK(peak - before < 64 * 1024);
#endif
    CHECK(d->tar_size > kSize);
    CHECK(sink.bytes < kSize + kSize / 100);  // random data: stored, not inflated
  }
}

}  // namespace
}  // namespace hoist::layer

namespace hoist::layer {
namespace {

// umoci is a Go program: its gzip reader and its diff ID check see our
// layer as a registry client would.
TEST_CASE("umoci (Go) unpacks an image made of our layer", "[writer][tools]") {
  if (!test::HaveTool("umoci")) {
    WARN("umoci not installed: skipped");
    return;
  }
  TempDir dir;
  std::string layout = dir / "layout";
  REQUIRE(store::MakeDirs(layout + "/blobs/sha256").ok());
  std::string text = test::Pattern(3 << 20, 21, true);
  std::vector<Entry> entries = {Entry::Dir("app"), Entry::File("app/text", text),
                                Entry::File("app/random", test::Pattern(2 << 20, 22)),
                                Entry::Symlink("app/link", "text"),
                                Entry::Hardlink("app/hard", "app/text")};
  LayerOptions o;
  o.compress.threads = 2;
  LayerDescriptor d = test::WriteLayerFile(dir / "layer", entries, o);
  REQUIRE(std::rename((dir / "layer").c_str(),
                      (layout + "/blobs/sha256/" + d.digest.hex()).c_str()) == 0);
  test::Run py = Sh(
      "python3 - '" + layout + "' '" + d.digest.str() + "' '" + d.diff_id.str() + "' " +
      std::to_string(d.size) +
      " <<'EOF'\n"
      "import hashlib, json, os, sys\n"
      "root, digest, diff_id, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])\n"
      "def put(obj):\n"
      "    b = json.dumps(obj).encode()\n"
      "    h = hashlib.sha256(b).hexdigest()\n"
      "    open(os.path.join(root, 'blobs/sha256', h), 'wb').write(b)\n"
      "    return 'sha256:' + h, len(b)\n"
      "cfg = put({'architecture': 'amd64', 'os': 'linux', 'config': {},\n"
      "           'rootfs': {'type': 'layers', 'diff_ids': [diff_id]}})\n"
      "man = put({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',\n"
      "  'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': cfg[0], "
      "'size': cfg[1]},\n"
      "  'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar+gzip', 'digest': digest, "
      "'size': size}]})\n"
      "json.dump({'schemaVersion': 2, 'manifests': [{'mediaType': "
      "'application/vnd.oci.image.manifest.v1+json',\n"
      "  'digest': man[0], 'size': man[1], 'annotations': {'org.opencontainers.image.ref.name': "
      "'latest'}}]},\n"
      "  open(os.path.join(root, 'index.json'), 'w'))\n"
      "json.dump({'imageLayoutVersion': '1.0.0'}, open(os.path.join(root, 'oci-layout'), 'w'))\n"
      "EOF");
  REQUIRE(py.code == 0);
  std::string rootless = ::geteuid() == 0 ? "" : "--rootless ";
  test::Run u = Sh("umoci unpack " + rootless + "--image '" + layout + ":latest' '" +
                   dir / "bundle" + "' 2>&1");
  INFO(u.out);
  REQUIRE(u.code == 0);
  CHECK(test::ReadFile(dir / "bundle/rootfs/app/text") == text);
  CHECK(test::Exists(dir / "bundle/rootfs/app/link"));
  struct stat a {
  }, b{};
  REQUIRE(::stat((dir / "bundle/rootfs/app/text").c_str(), &a) == 0);
  REQUIRE(::stat((dir / "bundle/rootfs/app/hard").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
}

}  // namespace
}  // namespace hoist::layer
