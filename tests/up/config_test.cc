// builder/up/config.h: the hoist.yaml schema, defaults, and errors that
// name the file, the line and the field.
#include "builder/up/config.h"

#include <catch2/catch.hpp>

namespace hoist::up {
namespace {

// The error message of parsing `text` as "hoist.yaml" (REQUIREs failure).
std::string ErrorOf(const std::string& text) {
  Result<UpFile> f = ParseUpFile(text, "hoist.yaml");
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().code() == Code::kInvalidArgument);
  return f.status().message();
}

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("up config: a full file parses with every field", "[up]") {
  Result<UpFile> f = ParseUpFile(R"(registry:
  name: local
  port: 5123
  storage: data/registry
  health: {path: /healthz, interval: 250ms, timeout: 5s}
images:
  - name: busybox
    prefix: library
    source: oci:base
  - name: app
    prefix: your/custom/prefix
    tag: "1.0"
    depends_on: [busybox]
    dockerfile:
      context: app
      file: Dockerfile.prod
      args: {BASE: "${REGISTRY}/library/busybox:latest", N: 3}
      target: final
      platform: linux/amd64
  - name: tool
    command: {run: "sh make.sh", output: out/tool}
build: {parallel: 2, retries: 5, backoff: 100ms, timeout: 10m}
)",
                                 "/tmp/project/hoist.yaml");
  REQUIRE(f.ok());
  CHECK(f->registry.name == "local");
  CHECK(f->registry.port == 5123);
  CHECK(f->registry.storage == "data/registry");
  CHECK(f->registry.health.path == "/healthz");
  CHECK(f->registry.health.interval == Millis(250));
  CHECK(f->registry.health.timeout == Millis(5000));
  REQUIRE(f->images.size() == 3);
  const ImageSpec& app = f->images[1];
  CHECK(app.kind == "dockerfile");
  CHECK(app.line == 10);
  CHECK(app.FinalReference("127.0.0.1:5000") == "127.0.0.1:5000/your/custom/prefix/app:1.0");
  CHECK(app.depends_on == std::vector<std::string>{"busybox"});
  CHECK(app.dockerfile.context == "app");
  CHECK(app.dockerfile.file == "Dockerfile.prod");
  CHECK(app.dockerfile.args.at("BASE") == "${REGISTRY}/library/busybox:latest");
  CHECK(app.dockerfile.args.at("N") == "3");
  CHECK(app.dockerfile.target == "final");
  CHECK(app.dockerfile.platform == "linux/amd64");
  CHECK(f->images[0].kind == "source");
  CHECK(f->images[0].source == "oci:base");
  CHECK(f->images[0].FinalReference("h:1") == "h:1/library/busybox:latest");
  CHECK(f->images[2].kind == "command");
  CHECK(f->images[2].command.run == "sh make.sh");
  CHECK(f->images[2].command.output == "out/tool");
  CHECK(f->images[2].FinalReference("h:1") == "h:1/tool:latest");
  CHECK(f->build.parallel == 2);
  CHECK(f->build.retries == 5);
  CHECK(f->build.backoff == Millis(100));
  CHECK(f->build.timeout == Millis(600000));
  CHECK(f->Find("tool") == 2);
  CHECK(f->Find("nope") == -1);
}

TEST_CASE("up config: sign and verify", "[up]") {
  Result<UpFile> f = ParseUpFile(R"(sign: keys/all.key
sbom: true
images:
  - name: a
    source: example.com/a:1
    verify: a.pub
  - name: b
    source: example.com/b:1
    sign: b.key
    sbom: false
    verify: [b1.pub, b2.pub]
  - name: c
    command: {run: "true"}
)",
                                 "hoist.yaml");
  REQUIRE(f.ok());
  CHECK(f->sign == "keys/all.key");
  CHECK(f->sbom);
  CHECK_FALSE(f->images[0].sbom.has_value());
  CHECK(f->images[1].sbom == false);
  CHECK(f->images[0].verify == std::vector<std::string>{"a.pub"});
  CHECK(f->images[0].sign.empty());
  CHECK(f->images[1].sign == "b.key");
  CHECK(f->images[1].verify == std::vector<std::string>{"b1.pub", "b2.pub"});
  CHECK(f->images[2].verify.empty());
  CHECK_THAT(ErrorOf("images:\n  - name: c\n    verify: k.pub\n    command: {run: x}\n"),
             StartsWith("hoist.yaml:3:13: images[0].verify: verify checks imported images"));
  CHECK_THAT(ErrorOf("sign: \"\"\nimages: []\n"), Contains("sign"));
  CHECK_THAT(ErrorOf("sbom: yes please\nimages: []\n"),
             StartsWith("hoist.yaml:1:7: sbom: want true or false, got \"yes please\""));
}

TEST_CASE("up config: defaults", "[up]") {
  Result<UpFile> f = ParseUpFile("images:\n  - {name: a, source: \"oci:x\"}\n", "hoist.yaml");
  REQUIRE(f.ok());
  CHECK(f->registry.name == "registry");
  CHECK(f->registry.port == 0);
  CHECK(f->registry.storage == ".hoist/registry");
  CHECK(f->registry.health.path == "/v2/");
  CHECK(f->build.parallel == 3);
  CHECK(f->build.retries == 3);
  CHECK(f->images[0].tag == "latest");
  CHECK(f->images[0].prefix.empty());
}

TEST_CASE("up config: registry.storage names a directory or an S3 bucket", "[up]") {
  Result<UpFile> f = ParseUpFile(R"(registry:
  storage:
    s3: {endpoint: "http://127.0.0.1:7480", bucket: images, root_directory: team, virtual_host: true}
images:
  - {name: a, source: "oci:x"}
)",
                                 "hoist.yaml");
  REQUIRE(f.ok());
  REQUIRE(f->registry.s3.has_value());
  CHECK(f->registry.s3->endpoint == "http://127.0.0.1:7480");
  CHECK(f->registry.s3->bucket == "images");
  CHECK(f->registry.s3->region == "us-east-1");
  CHECK(f->registry.s3->root_directory == "team");
  CHECK(f->registry.s3->virtual_host);
  Result<UpFile> dir = ParseUpFile("registry: {storage: data}\nimages: []\n", "hoist.yaml");
  REQUIRE(dir.ok());
  CHECK_FALSE(dir->registry.s3.has_value());
  CHECK(dir->registry.storage == "data");

  const std::string head = "registry:\n  storage:\n    s3: {endpoint: \"http://h\"";
  CHECK_THAT(ErrorOf(head + "}\nimages: []\n"),
             StartsWith("hoist.yaml:3:9: registry.storage.s3.bucket: missing"));
  CHECK_THAT(ErrorOf(head + ", bucket: b, region: \"\"}\nimages: []\n"),
             Contains("registry.storage.s3.region: must not be empty"));
  CHECK_THAT(ErrorOf(head + ", bucket: b, virtual_host: yes}\nimages: []\n"),
             Contains("registry.storage.s3.virtual_host: want true or false"));
  CHECK_THAT(ErrorOf("registry:\n  storage: {s3: {endpoint: \"h\", bucket: b}}\nimages: []\n"),
             Contains("registry.storage.s3.endpoint: want an http:// or https:// URL"));
  CHECK_THAT(ErrorOf("registry:\n  storage: {gcs: {}}\nimages: []\n"),
             Contains("unknown key \"gcs\" (allowed: s3)"));
}

TEST_CASE("up config: unknown keys name the line, the column and the field", "[up]") {
  CHECK_THAT(ErrorOf("registy:\n  port: 0\n"),
             StartsWith("hoist.yaml:1:1: unknown key \"registy\" (allowed: registry, images, "
                        "build, sign, sbom)"));
  CHECK_THAT(ErrorOf("registry:\n  name: r\n  prot: 1\n"),
             StartsWith("hoist.yaml:3:3: registry: unknown key \"prot\""));
  CHECK_THAT(ErrorOf("images:\n  - name: a\n    dockerfile:\n      contex: .\n"),
             StartsWith("hoist.yaml:4:7: images[0].dockerfile: unknown key \"contex\" (allowed: "
                        "context, file, args, target, platform)"));
  CHECK_THAT(ErrorOf("registry:\n  health: {path: /v2/, every: 1s}\n"),
             Contains("registry.health: unknown key \"every\""));
}

TEST_CASE("up config: missing fields", "[up]") {
  CHECK_THAT(ErrorOf("images:\n  - source: oci:x\n"),
             StartsWith("hoist.yaml:2:5: images[0]: missing \"name\""));
  CHECK_THAT(ErrorOf("images:\n  - name: a\n    tag: x\n"),
             StartsWith("hoist.yaml:2:5: images[0]: missing how to produce \"a\": give one of "
                        "dockerfile | source | command"));
  CHECK_THAT(ErrorOf("images:\n  - name: a\n    dockerfile: {file: D}\n"),
             Contains("images[0].dockerfile: missing \"context\""));
  CHECK_THAT(ErrorOf("images:\n  - name: a\n    command: {output: o}\n"),
             Contains("images[0].command: missing \"run\""));
  CHECK_THAT(ErrorOf("images:\n  - name: a\n    source: \"\"\n"),
             StartsWith("hoist.yaml:3:13: images[0].source: must not be empty"));
  CHECK_THAT(ErrorOf(""), Contains("hoist.yaml: the file is empty"));
}

TEST_CASE("up config: exactly one way to produce an image", "[up]") {
  CHECK_THAT(
      ErrorOf("images:\n  - name: a\n    source: oci:x\n    command: {run: x}\n"),
      StartsWith("hoist.yaml:4:14: images[0]: \"source\" and \"command\" exclude each other"));
}

TEST_CASE("up config: two images with the same final reference or name", "[up]") {
  CHECK_THAT(ErrorOf("images:\n"
                     "  - {name: a, prefix: p, source: oci:x}\n"
                     "  - {name: b, source: oci:y}\n"
                     "  - {name: a, prefix: p/, source: oci:z}\n"),
             StartsWith("hoist.yaml:4:5: images[2]: final reference <registry>/p/a:latest is "
                        "also that of images[0] (line 2)"));
  CHECK_THAT(ErrorOf("images:\n"
                     "  - {name: a, tag: \"1\", source: oci:x}\n"
                     "  - {name: a, tag: \"2\", source: oci:y}\n"),
             StartsWith("hoist.yaml:3:5: images[1].name: \"a\" is already the name of images[0] "
                        "(line 2)"));
}

TEST_CASE("up config: bad values", "[up]") {
  CHECK_THAT(
      ErrorOf("registry: {port: 70000}\n"),
      StartsWith("hoist.yaml:1:18: registry.port: want an integer from 0 to 65535, got 70000"));
  CHECK_THAT(ErrorOf("registry: {port: abc}\n"), Contains("got \"abc\""));
  CHECK_THAT(ErrorOf("build: {parallel: 0}\n"),
             Contains("build.parallel: want an integer from 1 to 64"));
  CHECK_THAT(ErrorOf("build: {backoff: soon}\n"),
             Contains("build.backoff: want a duration such as 500ms, 2s, 1m, got \"soon\""));
  CHECK_THAT(ErrorOf("registry: {health: {path: v2}}\n"),
             Contains("registry.health.path: must start with /"));
  CHECK_THAT(ErrorOf("images:\n  - {name: App, source: oci:x}\n"),
             Contains("images[0]: \"<registry>/App:latest\" is not a valid image reference"));
  CHECK_THAT(ErrorOf("images:\n  - {name: a/b, source: oci:x}\n"),
             Contains("images[0].name: \"a/b\" must not contain / (use prefix)"));
  CHECK_THAT(ErrorOf("images: {name: a}\n"), Contains("images: expected a list of images"));
  CHECK_THAT(ErrorOf("images:\n  - name: a\n    dockerfile: {context: ., args: [A]}\n"),
             Contains("images[0].dockerfile.args: expected a mapping of KEY: VALUE"));
}

TEST_CASE("up config: depends_on names images and has no cycle", "[up]") {
  CHECK_THAT(ErrorOf("images:\n  - {name: a, source: oci:x, depends_on: [zz]}\n"),
             StartsWith("hoist.yaml:2:5: images[0].depends_on: no image is named \"zz\""));
  CHECK_THAT(ErrorOf("images:\n"
                     "  - {name: a, source: oci:x, depends_on: [c]}\n"
                     "  - {name: b, source: oci:x, depends_on: [a]}\n"
                     "  - {name: c, source: oci:x, depends_on: [b]}\n"),
             Contains("dependency cycle: a -> c -> b -> a"));
  CHECK_THAT(ErrorOf("images:\n  - {name: a, source: oci:x, depends_on: [a]}\n"),
             Contains("an image cannot depend on itself"));
}

TEST_CASE("up config: YAML syntax errors carry the line", "[up]") {
  CHECK_THAT(ErrorOf("images:\n  - name: a\n   source: [\n"), StartsWith("hoist.yaml:3:"));
}

TEST_CASE("up config: durations", "[up]") {
  const std::pair<const char*, int64_t> good[] = {{"250ms", 250}, {"2s", 2000},    {"1.5", 1500},
                                                  {"2m", 120000}, {"1h", 3600000}, {"1m30s", 90000},
                                                  {"0", 0}};
  for (const auto& [text, ms] : good) {
    Millis d{-1};
    INFO(text);
    CHECK(ParseDuration(text, &d));
    CHECK(d == Millis(ms));
  }
  Millis d{0};
  for (const char* bad : {"", "s", "1.2.3s", "-1s", "3 days", "8d", "200h"}) {
    INFO(bad);
    CHECK_FALSE(ParseDuration(bad, &d));
  }
  CHECK(FormatDuration(Millis(250)) == "250ms");
  CHECK(FormatDuration(Millis(1500)) == "1.5s");
  CHECK(FormatDuration(Millis(125000)) == "2m5s");
}

TEST_CASE("up config: paths and ${REGISTRY}", "[up]") {
  CHECK(ResolvePath("/p", "app") == "/p/app");
  CHECK(ResolvePath("/p", "./app") == "/p/app");
  CHECK(ResolvePath("/p", ".") == "/p");
  CHECK(ResolvePath("/p", "/abs") == "/abs");
  CHECK(SubstituteRegistry("${REGISTRY}/a:${REGISTRY}", "h:1") == "h:1/a:h:1");
  CHECK(SubstituteRegistry("$REGISTRY/x", "h:1") == "$REGISTRY/x");
  CHECK(FileDir("/") == "/");
}

}  // namespace
}  // namespace hoist::up
