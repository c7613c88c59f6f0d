// OCI layouts, archives and the Docker credential store on a temp dir.
#include "builder/transfer/layout.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "builder/transfer/archive.h"
#include "builder/transfer/copy.h"
#include "builder/transfer/verify.h"
#include "common/credentials.h"

using namespace hoist;
using namespace hoist::transfer;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    std::string p = (fs::temp_directory_path() / "hoist-transfer-test-XXXXXX").string();
    REQUIRE(::mkdtemp(p.data()) != nullptr);
    path = p;
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string Slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

BlobOpener Opener(const std::string& bytes, const Descriptor& d) {
  return [bytes, d]() -> Result<std::unique_ptr<ByteSource>> {
    return std::unique_ptr<ByteSource>(
        new VerifyingReader(std::make_unique<StringSource>(bytes), d, "t"));
  };
}

Descriptor Blob(const std::string& s) {
  Descriptor d;
  d.digest = DigestOf(s);
  d.size = static_cast<int64_t>(s.size());
  return d;
}

// Writes a one-layer image into a layout sink under `tag`, committed.
Manifest WriteImage(const std::string& dir, const std::string& tag, const std::string& salt) {
  auto sink = LayoutSink::Open(dir, tag, "oci:" + dir);
  REQUIRE(sink.ok());
  std::string config = "{\"salt\":\"" + salt + "\"}", layer = "layer " + salt;
  REQUIRE((*sink)->PutBlob(Blob(layer), Opener(layer, Blob(layer))).ok());
  REQUIRE((*sink)->PutBlob(Blob(config), Opener(config, Blob(config))).ok());
  auto m = MakeManifest(
      "application/vnd.oci.image.manifest.v1+json",
      "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
      "vnd.oci.image.config.v1+json\",\"digest\":\"" +
          DigestOf(config).str() + "\",\"size\":" + std::to_string(config.size()) +
          "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" +
          DigestOf(layer).str() + "\",\"size\":" + std::to_string(layer.size()) + "}]}");
  REQUIRE(m.ok());
  REQUIRE((*sink)->PutManifest(*m, true).ok());
  REQUIRE((*sink)->Commit().ok());
  return *m;
}

}  // namespace

TEST_CASE("a new layout appears only on commit", "[layout]") {
  TempDir t;
  const std::string dir = t.path + "/img";
  {
    auto sink = LayoutSink::Open(dir, "v1", "oci:img");
    REQUIRE(sink.ok());
    std::string b = "bytes";
    REQUIRE((*sink)->PutBlob(Blob(b), Opener(b, Blob(b))).ok());
    CHECK_FALSE(fs::exists(dir));
  }  // dropped without Commit: the staging directory goes too
  CHECK_FALSE(fs::exists(dir));
  CHECK(fs::is_empty(t.path));
  Manifest m = WriteImage(dir, "v1", "a");
  CHECK(fs::exists(dir + "/oci-layout"));
  auto src = LayoutSource::Open(dir, "v1", "oci:img:v1");
  REQUIRE(src.ok());
  auto top = (*src)->TopManifest();
  REQUIRE(top.ok());
  CHECK(top->digest == m.digest);
  CHECK(top->bytes == m.bytes);
}

TEST_CASE("index.json keeps other tags and replaces a retagged one", "[layout]") {
  TempDir t;
  const std::string dir = t.path + "/img";
  Manifest a = WriteImage(dir, "a", "1");
  Manifest b = WriteImage(dir, "b", "2");
  Manifest a2 = WriteImage(dir, "a", "3");
  auto index = nlohmann::json::parse(Slurp(dir + "/index.json"));
  REQUIRE(index["manifests"].size() == 2);
  CHECK((*LayoutSource::Open(dir, "a", "x"))->TopManifest()->digest == a2.digest);
  CHECK((*LayoutSource::Open(dir, "b", "x"))->TopManifest()->digest == b.digest);
  auto ambiguous = LayoutSource::Open(dir, "", "oci:img");
  REQUIRE_FALSE(ambiguous.ok());
  CHECK(ambiguous.status().message().find("tags: b, a") != std::string::npos);
  CHECK(LayoutSource::Open(dir, "zzz", "x").status().code() == Code::kManifestUnknown);
  CHECK(LayoutSource::Open(t.path + "/none", "", "x").status().code() == Code::kNotFound);
  (void)a;
}

TEST_CASE("a wrong blob leaves no file behind", "[layout]") {
  TempDir t;
  const std::string dir = t.path + "/img";
  fs::create_directories(dir);  // an existing, empty directory is written in place
  auto sink = LayoutSink::Open(dir, "", "oci:img");
  REQUIRE(sink.ok());
  std::string good = "good bytes";
  Status st = (*sink)->PutBlob(Blob(good), Opener("bad! bytes", Blob(good)));
  CHECK(st.code() == Code::kDigestInvalid);
  CHECK_FALSE(fs::exists(LayoutBlobPath(dir, DigestOf(good))));
  for (auto& e : fs::recursive_directory_iterator(dir)) CHECK_FALSE(e.is_regular_file());
  CHECK(LayoutSink::Open(t.path, "", "x").status().code() ==
        Code::kInvalidArgument);  // not a layout
}

TEST_CASE("archives: deterministic tars, safe extraction, round trip", "[archive]") {
  TempDir t;
  const std::string dir = t.path + "/img";
  Manifest m = WriteImage(dir, "v1", "tar");
  REQUIRE(WriteTar(dir, t.path + "/a.tar").ok());
  REQUIRE(WriteTar(dir, t.path + "/b.tar").ok());
  CHECK(Slurp(t.path + "/a.tar") == Slurp(t.path + "/b.tar"));
  REQUIRE(ExtractTar(t.path + "/a.tar", t.path + "/x").ok());
  CHECK(Slurp(t.path + "/x/index.json") == Slurp(dir + "/index.json"));

  auto src = OpenOciArchiveSource(t.path + "/a.tar", "v1", "oci-archive:a.tar:v1");
  REQUIRE(src.ok());
  auto sink =
      OpenDockerArchiveSink(t.path + "/d.tar", *Reference::Parse("app:1"), "docker-archive:d.tar");
  REQUIRE(sink.ok());
  auto r = Copy(**src, **sink, {});
  REQUIRE(r.ok());
  CHECK(r->top.digest == m.digest);
  auto back = OpenDockerArchiveSource(t.path + "/d.tar", std::nullopt, "docker-archive:d.tar");
  REQUIRE(back.ok());
  CHECK((*back)->TopManifest()->digest == m.digest);
  REQUIRE(ExtractTar(t.path + "/d.tar", t.path + "/dx").ok());
  auto mj = nlohmann::json::parse(Slurp(t.path + "/dx/manifest.json"));
  CHECK(mj[0]["RepoTags"][0] == "app:1");
  CHECK(mj[0]["Layers"].size() == 1);

  // A tar whose member climbs out of the extraction directory.
  std::ofstream evil(t.path + "/evil.tar", std::ios::binary);
  std::string header(512, '\0');
  std::string name = "../escaped";
  std::copy(name.begin(), name.end(), header.begin());
  std::string mode = "0000644", size = "00000000000", mtime = "00000000000";
  std::copy(mode.begin(), mode.end(), header.begin() + 100);
  std::copy(size.begin(), size.end(), header.begin() + 124);
  std::copy(mtime.begin(), mtime.end(), header.begin() + 136);
  header[156] = '0';
  std::fill(header.begin() + 148, header.begin() + 156, ' ');
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::copy(chk, chk + 7, header.begin() + 148);
  evil << header << std::string(1024, '\0');
  evil.close();
  Status st = ExtractTar(t.path + "/evil.tar", t.path + "/ex");
  CHECK_FALSE(st.ok());
  CHECK_FALSE(fs::exists(t.path + "/escaped"));
}

TEST_CASE("docker config credentials: store, get, erase", "[credentials]") {
  TempDir t;
  const std::string path = t.path + "/config.json";
  {
    std::ofstream(path)
        << R"({"auths":{"https://old.example.com/v1/":{"auth":"dTpw"}},"psFormat":"x"})";
  }
  CredentialStore store(path);
  CHECK(store.Get("old.example.com")->username == "u");
  CHECK(store.Get("old.example.com")->password == "p");
  CHECK(store.Get("other.example.com")->empty());
  REQUIRE(store.Store("localhost:5000", {"alice", "s:cret"}).ok());
  REQUIRE(store.Store("docker.io", {"bob", "pw"}).ok());
  auto j = nlohmann::json::parse(Slurp(path));
  CHECK(j["psFormat"] == "x");
  CHECK(j["auths"].contains("https://index.docker.io/v1/"));
  CHECK(store.Get("localhost:5000")->password == "s:cret");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(store.Erase("localhost:5000").ok());
  CHECK(store.Get("localhost:5000")->empty());
  CHECK(store.Erase("localhost:5000").code() == Code::kNotFound);
  CHECK(CredentialStore(t.path + "/missing.json").Get("x")->empty());
  { std::ofstream(path) << "{not json"; }
  CHECK_FALSE(store.Get("x").ok());
  CHECK(*Base64Decode(Base64Encode("any: bytes\n")) == "any: bytes\n");
  CHECK(Base64Encode("ab") == "YWI=");
}
