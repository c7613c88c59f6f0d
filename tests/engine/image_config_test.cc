// The image config a stage builds up: each metadata instruction as
// BuildKit applies it, history texts, and the JSON shape.
#include "builder/engine/image_config.h"
#include "common/clock.h"

#include <nlohmann/json.hpp>

#include "tests/engine/helpers.h"

namespace hoist::engine {
namespace {

using test::StageCommands;

ImageConfig Apply(const std::string& dockerfile,
                  ImageConfig cfg = ImageConfig::Scratch({"linux", "amd64", ""})) {
  DispatchState ds;
  for (const dockerfile::Command& c : StageCommands(dockerfile)) {
    if (!IsMetadataCommand(c)) continue;
    Status st = ApplyMetadata(c, "2024-01-01T00:00:00Z", &ds, &cfg);
    REQUIRE(st.ok());
  }
  return cfg;
}

std::vector<std::string> History(const ImageConfig& c) {
  std::vector<std::string> out;
  for (const HistoryEntry& h : c.history) out.push_back(h.created_by);
  return out;
}

TEST_CASE("scratch config: platform, WorkingDir /, default PATH", "[config]") {
  ImageConfig c = ImageConfig::Scratch({"linux", "arm64", "v8"});
  CHECK(c.architecture == "arm64");
  CHECK(c.variant == "v8");
  CHECK(c.config.working_dir == "/");
  REQUIRE(c.config.env.size() == 1);
  CHECK(c.config.env[0].rfind("PATH=/usr/local/sbin:", 0) == 0);
}

TEST_CASE("ENV replaces in place and appends new keys, LABEL adds, both make history", "[config]") {
  ImageConfig c = Apply("FROM scratch\nENV PATH=/x A=1\nENV A=2 B=$A\nLABEL x=1 \"y z\"=2\n");
  CHECK(c.config.env == std::vector<std::string>{"PATH=/x", "A=2", "B=1"});
  CHECK(c.config.labels == std::map<std::string, std::string>{{"x", "1"}, {"y z", "2"}});
  CHECK(History(c) ==
        std::vector<std::string>{"ENV PATH=/x A=1", "ENV A=2 B=1", "LABEL x=1 y z=2"});
  for (const HistoryEntry& h : c.history) {
    CHECK(h.empty_layer);
    CHECK(h.comment == "buildkit.dockerfile.v0");
    CHECK(h.created == "2024-01-01T00:00:00Z");
  }
}

TEST_CASE("CMD and ENTRYPOINT: shell form gets SHELL, ENTRYPOINT resets an inherited CMD",
          "[config]") {
  ImageConfig base = ImageConfig::Scratch({"linux", "amd64", ""});
  base.config.cmd = {"sh"};
  ImageConfig c = Apply("FROM scratch\nENTRYPOINT [\"/app\"]\n", base);
  CHECK(c.config.entrypoint == std::vector<std::string>{"/app"});
  CHECK(c.config.cmd.empty());

  c = Apply("FROM scratch\nCMD echo hi\nENTRYPOINT /bin/run x\n", base);
  CHECK(c.config.cmd == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
  CHECK(c.config.entrypoint == std::vector<std::string>{"/bin/sh", "-c", "/bin/run x"});
  CHECK(c.config.args_escaped);
  CHECK(History(c) == std::vector<std::string>{"CMD [\"/bin/sh\" \"-c\" \"echo hi\"]",
                                               "ENTRYPOINT [\"/bin/sh\" \"-c\" \"/bin/run x\"]"});

  c = Apply("FROM scratch\nSHELL [\"/bin/bash\", \"-eu\", \"-c\"]\nCMD make\n", base);
  CHECK(c.config.shell == std::vector<std::string>{"/bin/bash", "-eu", "-c"});
  CHECK(c.config.cmd == std::vector<std::string>{"/bin/bash", "-eu", "-c", "make"});
  CHECK(History(c)[0] == "SHELL [/bin/bash -eu -c]");
}

TEST_CASE("EXPOSE, VOLUME, USER, STOPSIGNAL, MAINTAINER, ARG, ONBUILD", "[config]") {
  ImageConfig c = Apply(
      "FROM scratch\nEXPOSE 80 53/udp 8000-8001\nVOLUME /data\nVOLUME [\"/c\"]\nUSER app:app\n"
      "STOPSIGNAL SIGTERM\nMAINTAINER me <m@x>\nARG V=1\nONBUILD COPY . /src\n");
  CHECK(c.config.exposed_ports ==
        std::set<std::string>{"53/udp", "80/tcp", "8000/tcp", "8001/tcp"});
  CHECK(c.config.volumes == std::set<std::string>{"/c", "/data"});
  CHECK(c.config.user == "app:app");
  CHECK(c.config.stop_signal == "SIGTERM");
  CHECK(c.author == "me <m@x>");
  CHECK(c.config.on_build == std::vector<std::string>{"COPY . /src"});
  std::vector<std::string> h = History(c);
  REQUIRE(h.size() == 7);  // ONBUILD makes no entry
  CHECK(h[0] == "EXPOSE map[53/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]");
  CHECK(h[1] == "VOLUME [/data]");
  CHECK(h[2] == "VOLUME [/c]");
  CHECK(h[4] == "STOPSIGNAL SIGTERM");
  CHECK(h[5] == "MAINTAINER me <m@x>");
  CHECK(h[6] == "ARG V=1");
}

TEST_CASE("HEALTHCHECK: config in nanoseconds, history like %+v", "[config]") {
  ImageConfig c = Apply(
      "FROM scratch\nHEALTHCHECK --interval=5m --timeout=3s --retries=4 CMD curl -f http://x/\n");
  REQUIRE(c.config.healthcheck);
  CHECK(c.config.healthcheck->test == std::vector<std::string>{"CMD-SHELL", "curl -f http://x/"});
  CHECK(c.config.healthcheck->interval_ns == 300000000000LL);
  CHECK(c.config.healthcheck->retries == 4);
  CHECK(History(c)[0] ==
        "HEALTHCHECK {Test:[CMD-SHELL curl -f http://x/] Interval:5m0s Timeout:3s StartPeriod:0s "
        "StartInterval:0s Retries:4}");
  c = Apply("FROM scratch\nHEALTHCHECK NONE\n");
  CHECK(c.config.healthcheck->test == std::vector<std::string>{"NONE"});
}

TEST_CASE("WORKDIR: relative paths join and clean, absolute ones are kept", "[config]") {
  CHECK(*NormalizeWorkdir("", "app") == "/app");
  CHECK(*NormalizeWorkdir("/a/b", "../c/./d") == "/a/c/d");
  CHECK(*NormalizeWorkdir("/a", "/x/../y/") == "/x/../y/");
  CHECK(!NormalizeWorkdir("/", "").ok());
}

TEST_CASE("COPY/ADD history text has BuildKit's flags and marker", "[config]") {
  std::vector<dockerfile::Command> cmds = StageCommands(
      "FROM scratch\nCOPY --chown=1:2 --chmod=644 --from=x a b /d/\nADD --chown=app u /x\n"
      "COPY --parents <<EOF /f\nhi\nEOF\n");
  CHECK(CopyHistoryText(cmds[0]) == "COPY --chown=1:2 --chmod=644 a b /d/ # buildkit");
  CHECK(CopyHistoryText(cmds[1]) == "ADD --chown=app u /x # buildkit");
  CHECK(CopyHistoryText(cmds[2]) == "COPY --parents <<EOF /f # buildkit");
}

TEST_CASE("Serialize: DockerOCIImage field order, empty fields omitted, stable", "[config]") {
  ImageConfig c = Apply("FROM scratch\nENV A=1\nEXPOSE 80\nCMD [\"x\"]\nLABEL b=2 a=1\n");
  c.created = "2024-01-01T00:00:00Z";
  c.diff_ids.push_back(DigestOf("layer"));
  std::string s = c.Serialize();
  CHECK(s == c.Serialize());
  CHECK(
      s.find("\"created\":\"2024-01-01T00:00:00Z\",\"architecture\":\"amd64\",\"os\":\"linux\"") ==
      1);
  CHECK(s.find("\"config\":{\"ExposedPorts\":{\"80/tcp\":{}},\"Env\":[") != std::string::npos);
  CHECK(s.find("\"Labels\":{\"a\":\"1\",\"b\":\"2\"}") != std::string::npos);
  CHECK(s.find("\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:") != std::string::npos);
  CHECK(s.find("Entrypoint") == std::string::npos);
  Result<ImageConfig> back = ImageConfig::Parse(s);
  REQUIRE(back.ok());
  CHECK(*back == c);
}

TEST_CASE("Parse: a Docker-built config keeps known fields, drops the rest", "[config]") {
  const char* text = R"({"architecture":"amd64","os":"linux","docker_version":"20",
    "config":{"Hostname":"","Env":["PATH=/bin"],"Cmd":null,"Entrypoint":["/e"],
              "OnBuild":["RUN x"],"Labels":null,"Healthcheck":{"Test":["NONE"]}},
    "rootfs":{"type":"layers","diff_ids":["sha256:0123456789012345678901234567890123456789012345678901234567890123"]},
    "history":[{"created_by":"x","empty_layer":true}]})";
  Result<ImageConfig> c = ImageConfig::Parse(text);
  REQUIRE(c.ok());
  CHECK(c->config.env == std::vector<std::string>{"PATH=/bin"});
  CHECK(c->config.cmd.empty());
  CHECK(c->config.entrypoint == std::vector<std::string>{"/e"});
  CHECK(c->config.on_build == std::vector<std::string>{"RUN x"});
  CHECK(c->diff_ids.size() == 1);
  CHECK(c->history.size() == 1);
  CHECK(c->Serialize().find("Hostname") == std::string::npos);
  CHECK(!ImageConfig::Parse("[]").ok());
  CHECK(!ImageConfig::Parse(R"({"rootfs":{"diff_ids":["nope"]}})").ok());
}

TEST_CASE("Go formatting helpers", "[config]") {
  CHECK(GoQuote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\x01\"");
  CHECK(GoQuote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(GoDuration(0) == "0s");
  CHECK(GoDuration(1500000000) == "1.5s");
  CHECK(GoDuration(300000000000LL) == "5m0s");
  CHECK(GoDuration(3600000000000LL + 1000000000) == "1h0m1s");
  CHECK(GoDuration(2500000) == "2.5ms");
  CHECK(GoDuration(999) == "999ns");
  CHECK(FormatUtcSeconds(0) == "1970-01-01T00:00:00Z");
  CHECK(FormatUtcSeconds(1700000000) == "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace hoist::engine
