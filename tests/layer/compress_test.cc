#include "builder/layer/compress.h"

#include <zlib.h>

#include "layer/helpers.h"

namespace hoist::layer {
namespace {

using test::Sh;
using test::StringSink;
using test::TempDir;

std::string Compress(const std::string& in, Compression c, int threads, int level = -1,
                     size_t write_piece = 100000) {
  StringSink out;
  CompressOptions o;
  o.compression = c;
  o.threads = threads;
  o.level = level;
  Result<std::unique_ptr<Compressor>> comp = NewCompressor(o, &out);
  REQUIRE(comp.ok());
  for (size_t off = 0; off < in.size(); off += write_piece) {
    REQUIRE((*comp)->Write(in.data() + off, std::min(write_piece, in.size() - off)).ok());
  }
  REQUIRE((*comp)->Finish().ok());
  return out.data();
}

std::string Decompress(const std::string& in) {
  test::StringSource src(in, 777);
  Result<std::unique_ptr<ByteSource>> d = NewDecompressor(&src);
  REQUIRE(d.ok());
  std::string out;
  char buf[70000];
  while (true) {
    Result<size_t> n = (*d)->Read(buf, sizeof buf);
    REQUIRE(n.ok());
    if (*n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

// Text, random, and a mix whose random part spans whole 1 MiB blocks.
std::string Mixed(size_t size, uint64_t seed) {
  return test::Pattern(size / 2, seed, true) + test::Pattern(size - size / 2, seed + 1);
}

TEST_CASE("gzip output round-trips at block-boundary sizes", "[compress]") {
  const size_t kB = size_t{1} << 20;
  for (size_t size : {size_t{0}, size_t{1}, kB - 1, kB, kB + 1, 3 * kB + kB / 2}) {
    std::string in = test::Pattern(size, size, true);
    std::string gz = Compress(in, Compression::kGzip, 2);
    CHECK(Decompress(gz) == in);
  }
}

TEST_CASE("gzip and zstd output does not depend on threads or write sizes", "[compress]") {
  std::string in = Mixed(5 << 20, 7);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string one = Compress(in, c, 1, -1, 4096);
    CHECK(Compress(in, c, 2, -1, 1 << 20) == one);
    CHECK(Compress(in, c, 4, -1, 333333) == one);
    CHECK(Decompress(one) == in);
  }
}

TEST_CASE("gzip is one standard member that gzip, zcat and python accept", "[compress][tools]") {
  TempDir dir;
  std::string in = Mixed(3 << 20, 11);
  test::WriteFile(dir / "in", in);
  test::WriteFile(dir / "out.gz", Compress(in, Compression::kGzip, 4));
  CHECK(Sh("gzip -t '" + dir / "out.gz" + "'").code == 0);
  CHECK(Sh("gzip -dc '" + dir / "out.gz" + "' | cmp -s - '" + dir / "in" + "'").code == 0);
  // One member: python's zlib stops at the first member's end; all input used.
  test::Run py =
      Sh("python3 -c \"import zlib,sys; d=zlib.decompressobj(31); "
         "o=d.decompress(open(sys.argv[1],'rb').read()); "
         "print(len(o), len(d.unused_data), d.eof)\" '" +
         dir / "out.gz" + "'");
  CHECK(py.code == 0);
  CHECK(py.out == std::to_string(in.size()) + " 0 True\n");
}

TEST_CASE("zstd output passes zstd -t and decompresses with the CLI", "[compress][tools]") {
  TempDir dir;
  std::string in = Mixed(3 << 20, 12);
  test::WriteFile(dir / "in", in);
  test::WriteFile(dir / "out.zst", Compress(in, Compression::kZstd, 2));
  CHECK(Sh("zstd -q -t '" + dir / "out.zst" + "'").code == 0);
  CHECK(Sh("zstd -q -dc '" + dir / "out.zst" + "' | cmp -s - '" + dir / "in" + "'").code == 0);
}

TEST_CASE("incompressible gzip blocks are stored, barely larger than the input", "[compress]") {
  std::string in = test::Pattern(8 << 20, 3);
  std::string gz = Compress(in, Compression::kGzip, 2);
  // Stored blocks cost 5 bytes per started 64 KiB of each 1 MiB block, plus
  // the 18-byte gzip frame.
  CHECK(gz.size() <= in.size() + 8 * 17 * 5 + 5 + 18);
  CHECK(Decompress(gz) == in);
  // A 16 KiB random pattern repeated has high byte entropy but compresses:
  // the sample trial must notice.
  std::string chunk = test::Pattern(16 << 10, 4);
  std::string rep;
  while (rep.size() < (4u << 20)) rep += chunk;
  std::string gz2 = Compress(rep, Compression::kGzip, 2);
  CHECK(gz2.size() < rep.size() / 10);
  CHECK(Decompress(gz2) == rep);
}

TEST_CASE("gzip level 0 stores and level 9 still round-trips", "[compress]") {
  std::string in = test::Pattern(2 << 20, 5, true);
  std::string stored = Compress(in, Compression::kGzip, 2, 0);
  CHECK(stored.size() > in.size());
  CHECK(Decompress(stored) == in);
  std::string best = Compress(in, Compression::kGzip, 2, 9);
  CHECK(best.size() < in.size() * 6 / 10);  // 14 symbols: ~3.8 bits each
  CHECK(Decompress(best) == in);
}

TEST_CASE("parallel gzip ratio stays close to single-stream zlib", "[compress][tools]") {
  TempDir dir;
  std::string in = test::Pattern(6 << 20, 9, true);
  test::WriteFile(dir / "in", in);
  std::string ours = Compress(in, Compression::kGzip, 2, 6);
  test::Run ref = Sh("gzip -6 -c '" + dir / "in" + "' | wc -c");
  REQUIRE(ref.code == 0);
  double theirs = std::stod(ref.out);
  CHECK(static_cast<double>(ours.size()) <= theirs * 1.01);
}

TEST_CASE("bad levels are refused", "[compress]") {
  StringSink out;
  CompressOptions o;
  o.level = 10;
  CHECK(NewCompressor(o, &out).status().code() == Code::kInvalidArgument);
  o.compression = Compression::kZstd;
  o.level = 0;
  CHECK(NewCompressor(o, &out).status().code() == Code::kInvalidArgument);
  CHECK(ParseCompression("brotli").status().code() == Code::kInvalidArgument);
  CHECK(*ParseCompression("zstd") == Compression::kZstd);
}

TEST_CASE("decompressor reads multi-member gzip, concatenated zstd and plain data", "[compress]") {
  std::string a = test::Pattern(100000, 1, true), b = test::Pattern(200000, 2, true);
  CHECK(Decompress(Compress(a, Compression::kGzip, 1) + Compress(b, Compression::kGzip, 1)) ==
        a + b);
  CHECK(Decompress(Compress(a, Compression::kZstd, 1) + Compress(b, Compression::kZstd, 1)) ==
        a + b);
  CHECK(Decompress(a) == a);
  CHECK(Decompress("") == "");
  Detected d;
  std::string gz = Compress(a, Compression::kGzip, 1);
  test::StringSource src(gz);
  REQUIRE(NewDecompressor(&src, &d).ok());
  CHECK(d == Detected::kGzip);
}

// Reads all of `in` through the decompressor, `piece` input bytes and at
// most `out_size` output bytes at a time; the status of the first failure.
Result<std::string> DecompressPieces(const std::string& in, size_t piece, size_t out_size) {
  test::StringSource src(in, piece);
  Result<std::unique_ptr<ByteSource>> d = NewDecompressor(&src);
  if (!d.ok()) return d.status();
  std::string out;
  std::vector<char> buf(out_size);
  while (true) {
    Result<size_t> n = (*d)->Read(buf.data(), buf.size());
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf.data(), *n);
  }
}

TEST_CASE("gunzip reads what other gzip writers make, in any piece sizes", "[compress][tools]") {
  TempDir t;
  std::string a = Mixed(300000, 11), b = test::Pattern(50000, 12, true);
  test::WriteFile(t / "a", a);
  test::WriteFile(t / "b", b);
  // gzip(1) members carry a file name; -1 and -9 differ in block types; an
  // empty member; stored blocks (level 0 in our writer).
  REQUIRE(Sh("cd '" + t.path() + "' && gzip -1 -c a > m && gzip -9 -N -c b >> m && " +
             "printf '' | gzip -c >> m")
              .code == 0);
  std::string m = test::ReadFile(t / "m") + Compress(a, Compression::kGzip, 1, 0);
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    for (size_t out_size : {size_t{1}, size_t{333}, size_t{1} << 18}) {
      if (piece == 1 && out_size == 1) continue;  // 700k calls: slow under the sanitizers
      Result<std::string> got = DecompressPieces(m, piece, out_size);
      INFO("pieces of " << piece << ", output of " << out_size << ": " << got.status().message());
      REQUIRE(got.ok());
      CHECK(*got == a + b + a);
    }
  }
  // Zero padding after the last member is tolerated, other bytes are not.
  CHECK(*DecompressPieces(m + std::string(1000, '\0'), 100, 4096) == a + b + a);
  CHECK(DecompressPieces(m + std::string(10, '\0') + "x", 100, 4096).status().code() ==
        Code::kInvalidArgument);
}

// `data` as a gzip member whose header carries every optional field of
// RFC 1952 section 2.3.1: FEXTRA, FNAME, FCOMMENT and FHCRC.
std::string FullHeaderMember(const std::string& data) {
  std::string gz = Compress(data, Compression::kGzip, 1);
  REQUIRE(gz.size() > 10);
  REQUIRE(gz[3] == 0);  // our writer's header: the 10 fixed bytes alone
  std::string h = gz.substr(0, 10);
  h[3] = 0x02 | 0x04 | 0x08 | 0x10;  // FHCRC, FEXTRA, FNAME, FCOMMENT
  h += std::string(
           "\x09\x00"
           "AP\x05\x00",
           6) +
       "hello";  // XLEN 9: one subfield
  h += std::string("layer.tar") + '\0' + "written by tests" + '\0';
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(h.data()), static_cast<uInt>(h.size()));
  h += static_cast<char>(crc & 0xff);
  h += static_cast<char>((crc >> 8) & 0xff);
  return h + gz.substr(10);
}

TEST_CASE("gunzip reads headers with every optional field, split anywhere", "[compress]") {
  std::string a = test::Pattern(100000, 13, true), b = test::Pattern(70000, 14, true);
  std::string m = FullHeaderMember(a) + FullHeaderMember(b);
  // One-byte pieces split every field of both headers; the others split
  // them in other places.
  for (size_t piece : {1, 2, 3, 5, 11, 17, 4096}) {
    Result<std::string> got = DecompressPieces(m, piece, 4096);
    INFO("pieces of " << piece << ": " << got.status().message());
    REQUIRE(got.ok());
    CHECK(*got == a + b);
  }
  // A wrong header CRC, and a header cut short in its comment.
  std::string bad = m;
  bad[m.find(std::string("tests") + '\0') + 7] ^= 0x01;  // FHCRC's second byte
  Result<std::string> got = DecompressPieces(bad, 3, 4096);
  CHECK(got.status().code() == Code::kInvalidArgument);
  CHECK(got.status().message().find("header") != std::string::npos);
  got = DecompressPieces(m.substr(0, 40), 1, 4096);
  CHECK(got.status().code() == Code::kInvalidArgument);
  CHECK(got.status().message().find("unexpected end") != std::string::npos);
}

TEST_CASE("gunzip checks each member's CRC-32 and length", "[compress]") {
  std::string a = test::Pattern(100000, 3, true);
  std::string gz = Compress(a, Compression::kGzip, 1);
  std::string two = gz + gz;
  for (size_t at : {gz.size() - 8, gz.size() - 1, two.size() - 5}) {  // CRC, ISIZE, 2nd CRC
    std::string bad = two;
    bad[at] ^= 0x01;
    Result<std::string> got = DecompressPieces(bad, 4096, 65536);
    CHECK(got.status().code() == Code::kInvalidArgument);
    CHECK(got.status().message().find("corrupt gzip stream") != std::string::npos);
  }
  // A trailer cut short is an unexpected end, not a clean one.
  CHECK(DecompressPieces(gz.substr(0, gz.size() - 3), 4096, 65536).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("decompressor reports corrupt and truncated streams", "[compress]") {
  std::string in = test::Pattern(300000, 8, true);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string z = Compress(in, c, 1);
    for (std::string bad : {z.substr(0, z.size() / 2), z}) {
      if (bad.size() == z.size()) bad[bad.size() / 2] ^= 0x55;
      test::StringSource src(bad);
      Result<std::unique_ptr<ByteSource>> d = NewDecompressor(&src);
      REQUIRE(d.ok());
      Status st;
      char buf[65536];
      while (true) {
        Result<size_t> n = (*d)->Read(buf, sizeof buf);
        if (!n.ok()) {
          st = n.status();
          break;
        }
        if (*n == 0) break;
      }
      CHECK(st.code() == Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace hoist::layer
