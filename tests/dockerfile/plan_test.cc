// Build planning: ARG scoping, expansion, the stage graph and pruning.
#include "builder/dockerfile/plan.h"

#include <catch2/catch.hpp>

#include "builder/dockerfile/report.h"

namespace hoist::dockerfile {
namespace {

Dockerfile Df(std::string_view text) {
  Result<Dockerfile> df =
      ParseDockerfile(std::make_shared<const Source>("Dockerfile", std::string(text)));
  INFO((df.ok() ? std::string() : df.status().message()));
  REQUIRE(df.ok());
  return std::move(df).value();
}

BuildPlan Plan(std::string_view text, PlanOptions opt = {}) {
  Dockerfile df = Df(text);
  Result<BuildPlan> plan = PlanBuild(df, opt);
  INFO((plan.ok() ? std::string() : plan.status().message()));
  REQUIRE(plan.ok());
  return std::move(plan).value();
}

std::string PlanError(std::string_view text, PlanOptions opt = {}) {
  Dockerfile df = Df(text);
  Result<BuildPlan> plan = PlanBuild(df, opt);
  REQUIRE_FALSE(plan.ok());
  return plan.status().message();
}

PlanOptions Linux(const char* target_platform = "linux/amd64") {
  PlanOptions o;
  o.build_platform = Platform{"linux", "amd64", ""};
  o.target_platform = *ParsePlatform(target_platform);
  return o;
}

template <class T>
const T& Cmd(const PlannedStage& s, size_t i) {
  REQUIRE(i < s.commands.size());
  const T* c = std::get_if<T>(&s.commands[i]);
  REQUIRE(c != nullptr);
  return *c;
}

std::string Value(const Env& env, std::string_view key) {
  std::optional<std::string_view> v = env.Get(key);
  return v ? std::string(*v) : "<unset>";
}

TEST_CASE("ARGs before the first FROM are usable in FROM lines only", "[plan]") {
  BuildPlan p =
      Plan("ARG TAG=3.19\nARG IMG=alpine:${TAG}\nFROM ${IMG} AS a\nRUN echo $TAG\n", Linux());
  CHECK(p.stages[0].base == "alpine:3.19");
  CHECK(Value(p.global_args, "IMG") == "alpine:3.19");
  CHECK(Value(p.stages[0].env, "TAG") == "<unset>");  // not in the stage until redeclared
}

TEST_CASE("an ARG redeclared inside a stage takes the global value", "[plan]") {
  BuildPlan p = Plan("ARG V=1\nFROM scratch\nARG V\nARG W=$V-x\nWORKDIR /v$V\n", Linux());
  const PlannedStage& s = p.stages[0];
  CHECK(Value(s.env, "V") == "1");
  CHECK(Value(s.env, "W") == "1-x");
  CHECK(Cmd<WorkdirCommand>(s, 2).path == "/v1");
}

TEST_CASE("build args override defaults, global and in-stage", "[plan]") {
  PlanOptions o = Linux();
  o.build_args = {{"V", "9"}, {"IMG", "busybox"}};
  BuildPlan p = Plan("ARG IMG=alpine\nFROM $IMG\nARG V=1\nENV E=$V\n", o);
  CHECK(p.stages[0].base == "busybox");
  CHECK(Value(p.stages[0].env, "V") == "9");
  CHECK(Cmd<EnvCommand>(p.stages[0], 1).env[0].value == "9");
  CHECK(p.unused_build_args.empty());
}

TEST_CASE("automatic platform args", "[plan]") {
  PlanOptions o = Linux("linux/arm/v7");
  o.target = "b";
  BuildPlan p = Plan(
      "FROM --platform=$BUILDPLATFORM scratch AS b\n"
      "ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH\n"
      "ARG TARGETSTAGE\nFROM scratch\n",
      o);
  const Env& env = p.stages[0].env;
  CHECK(Value(env, "TARGETPLATFORM") == "linux/arm/v7");
  CHECK(Value(env, "TARGETOS") == "linux");
  CHECK(Value(env, "TARGETARCH") == "arm");
  CHECK(Value(env, "TARGETVARIANT") == "v7");
  CHECK(Value(env, "BUILDPLATFORM") == "linux/amd64");
  CHECK(Value(env, "BUILDOS") == "linux");
  CHECK(Value(env, "BUILDARCH") == "amd64");
  CHECK(Value(env, "TARGETSTAGE") == "b");
  CHECK(p.stages[0].platform == Platform{"linux", "amd64", ""});  // --platform=$BUILDPLATFORM
  CHECK(p.stages[1].platform == Platform{"linux", "arm", "v7"});  // the target platform
  BuildPlan unnamed = Plan("FROM scratch\nARG TARGETSTAGE\n", Linux());
  CHECK(Value(unnamed.stages[0].env, "TARGETSTAGE") == "default");
}

TEST_CASE("automatic args can be overridden by --build-arg", "[plan]") {
  PlanOptions o = Linux();
  o.build_args = {{"TARGETARCH", "riscv64"}};
  BuildPlan p = Plan("FROM scratch\nARG TARGETARCH\n", o);
  CHECK(Value(p.stages[0].env, "TARGETARCH") == "riscv64");
  CHECK(p.unused_build_args.empty());
}

TEST_CASE("proxy args reach RUN without an ARG and never count as unused", "[plan]") {
  PlanOptions o = Linux();
  o.build_args = {{"HTTP_PROXY", "http://proxy:3128"}, {"no_proxy", "localhost"}, {"OTHER", "x"}};
  BuildPlan p = Plan("FROM scratch\nRUN true\n", o);
  CHECK(p.proxy_env.size() == 2);
  CHECK(p.proxy_env.at("HTTP_PROXY") == "http://proxy:3128");
  CHECK(Value(p.stages[0].env, "HTTP_PROXY") == "<unset>");
  CHECK(p.unused_build_args == std::vector<std::string>{"OTHER"});
  REQUIRE_FALSE(p.warnings.empty());
  CHECK_THAT(p.warnings.back().message, Catch::Contains("build-args [OTHER] were not consumed"));
}

TEST_CASE("a build arg declared only in a pruned stage is unused", "[plan]") {
  PlanOptions o = Linux();
  o.build_args = {{"X", "1"}};
  o.target = "b";
  BuildPlan p = Plan("FROM scratch AS a\nARG X\nFROM scratch AS b\n", o);
  CHECK(p.unused_build_args == std::vector<std::string>{"X"});
}

TEST_CASE("ENV and ARG expansion order inside a stage, later definitions win", "[plan]") {
  BuildPlan p = Plan(
      "FROM scratch\nARG A=arg\nENV A=env-$A B=${A}2\nARG A\nLABEL l=$A\nUSER ${A:+u}\n"
      "EXPOSE ${P:-80} 53/udp\nVOLUME /v/$A\nSTOPSIGNAL ${SIG:-TERM}\n",
      Linux());
  const PlannedStage& s = p.stages[0];
  CHECK(Cmd<EnvCommand>(s, 1).env[0].value == "env-arg");
  CHECK(Cmd<EnvCommand>(s, 1).env[1].value == "arg2");  // B sees A before this ENV
  CHECK(Cmd<LabelCommand>(s, 3).labels[0].value == "env-arg");
  CHECK(Cmd<UserCommand>(s, 4).user == "u");
  // Sorted as written ("${P:-80}" < "53/udp"), then expanded, as BuildKit does.
  CHECK(Cmd<ExposeCommand>(s, 5).ports == std::vector<std::string>{"80", "53/udp"});
  CHECK(Cmd<VolumeCommand>(s, 6).volumes[0] == "/v/env-arg");
  CHECK(Cmd<StopSignalCommand>(s, 7).signal == "TERM");
}

TEST_CASE("instructions Docker does not expand keep their variables", "[plan]") {
  BuildPlan p = Plan("FROM scratch\nARG A=1\nRUN echo $A\nCMD echo $A\n", Linux());
  CHECK(Cmd<RunCommand>(p.stages[0], 1).cmdline.args[0] == "echo $A");
  CHECK(Cmd<CmdCommand>(p.stages[0], 2).cmdline.args[0] == "echo $A");
}

TEST_CASE("variables of an unknown base image are kept as written", "[plan]") {
  BuildPlan p = Plan("FROM alpine\nENV PATH=/app:$PATH X=${Y:-y}\n", Linux());
  CHECK(Cmd<EnvCommand>(p.stages[0], 0).env[0].value == "/app:$PATH");
  CHECK(Cmd<EnvCommand>(p.stages[0], 0).env[1].value == "${Y:-y}");
  CHECK_FALSE(p.stages[0].env_complete);
  PlanOptions known = Linux();
  known.base_image_env = [](const std::string& ref, const Platform&) {
    return ref == "alpine" ? std::optional<std::vector<std::string>>({"PATH=/bin"}) : std::nullopt;
  };
  BuildPlan q = Plan("FROM alpine\nENV PATH=/app:$PATH X=${Y:-y}\n", known);
  CHECK(Cmd<EnvCommand>(q.stages[0], 0).env[0].value == "/app:/bin");
  CHECK(Cmd<EnvCommand>(q.stages[0], 0).env[1].value == "y");
  BuildPlan s = Plan("FROM scratch\nENV P=$PATH\n", Linux());
  CHECK(Value(s.stages[0].env, "P") == kDefaultPathEnv);
}

TEST_CASE("COPY and ADD words and heredoc bodies are expanded", "[plan]") {
  BuildPlan p = Plan(
      "FROM scratch\nARG U=app D=/dst\nCOPY --chown=$U --chmod=0${M:-644} a$U $D/\n"
      "COPY <<EOF <<'RAW' /etc/\n$U \"q\"\nEOF\n$U\nRAW\nADD --checksum=sha256:${U} x $D\n",
      Linux());
  const CopyCommand& c = Cmd<CopyCommand>(p.stages[0], 1);
  CHECK(c.chown == "app");
  CHECK(c.chmod == "0644");
  CHECK(c.files.source_paths[0] == "aapp");
  CHECK(c.files.dest == "/dst/");
  const CopyCommand& h = Cmd<CopyCommand>(p.stages[0], 2);
  CHECK(h.files.source_contents[0].data == "app \"q\"\n");
  CHECK(h.files.source_contents[1].data == "$U\n");
  CHECK(Cmd<AddCommand>(p.stages[0], 3).checksum == "sha256:app");
}

TEST_CASE("RUN --mount fields are expanded and checked", "[plan]") {
  BuildPlan p =
      Plan("FROM scratch\nARG T=/cache\nRUN --mount=type=cache,target=$T,id=${T} x\n", Linux());
  const RunCommand& r = Cmd<RunCommand>(p.stages[0], 1);
  CHECK(r.mounts[0].type == "cache");
  CHECK(r.mounts[0].target == "/cache");
  CHECK_THAT(PlanError("FROM scratch\nARG K=size\nRUN --mount=type=bind,$K=1 x\n", Linux()),
             Catch::Contains("unexpected key"));
}

TEST_CASE("a target prunes the stages it does not need", "[plan]") {
  const char* df =
      "FROM alpine AS base\n"
      "FROM base AS deps\nRUN deps\n"
      "FROM golang AS tool\n"
      "FROM scratch AS docs\n"
      "FROM deps AS test\nCOPY --from=tool /t /t\n"
      "FROM deps AS release\nCOPY --from=0 /x /x\n";
  PlanOptions o = Linux();
  o.target = "test";
  BuildPlan p = Plan(df, o);
  CHECK(p.target == 4);
  std::vector<bool> needed;
  for (const PlannedStage& s : p.stages) needed.push_back(s.needed);
  CHECK(needed == std::vector<bool>{true, true, true, false, true, false});
  BuildPlan all = Plan(df, Linux());
  CHECK(all.target == 5);
  CHECK_FALSE(all.stages[2].needed);  // tool
  CHECK_FALSE(all.stages[3].needed);  // docs
  CHECK(all.stages[5].base_stage == std::optional<size_t>(1));
}

TEST_CASE("independent stages share a wave and may build in parallel", "[plan]") {
  BuildPlan p = Plan(
      "FROM alpine AS a\nFROM alpine AS b\nFROM a AS c\nCOPY --from=b / /\n"
      "FROM alpine AS d\nFROM scratch\nCOPY --from=c / /\nCOPY --from=d / /\n",
      Linux());
  REQUIRE(p.waves.size() == 3);
  CHECK(p.waves[0] == std::vector<size_t>{0, 1, 3});
  CHECK(p.waves[1] == std::vector<size_t>{2});
  CHECK(p.waves[2] == std::vector<size_t>{4});
  std::string text = PlanToText(p);
  CHECK_THAT(text, Catch::Contains("wave 1 (parallel): [0] a, [1] b, [3] d"));
}

TEST_CASE("COPY --from names a stage, a stage index or an image", "[plan]") {
  BuildPlan p = Plan(
      "FROM scratch AS Build\nFROM scratch\nCOPY --from=build a b\nCOPY --from=0 a b\n"
      "COPY --from=nginx:1.25 a b\nRUN --mount=from=BUILD,target=/m x\nRUN "
      "--mount=from=busybox,target=/b y\n",
      Linux());
  const std::vector<StageDep>& deps = p.stages[1].deps;
  REQUIRE(deps.size() == 5);
  CHECK(deps[0].stage == std::optional<size_t>(0));
  CHECK(deps[1].stage == std::optional<size_t>(0));
  CHECK_FALSE(deps[2].stage.has_value());
  CHECK(deps[2].image == "docker.io/library/nginx:1.25");  // normalised
  CHECK(deps[3].via == StageDep::Via::kMountFrom);
  CHECK(deps[3].stage == std::optional<size_t>(0));
  CHECK(deps[4].image == "docker.io/library/busybox:latest");
  CHECK_THAT(PlanError("FROM scratch\nCOPY --from=7 a b\n", Linux()),
             Catch::Contains("invalid stage index 7"));
  PlanOptions strict = Linux();
  strict.dialect = Dialect::kBuildKit;
  CHECK_THAT(PlanError("FROM scratch\nARG S=x\nCOPY --from=$S a b\n", strict),
             Catch::Contains("variable expansion is not supported for --from"));
}

TEST_CASE("cycles are rejected, and so are references to later stages", "[plan]") {
  std::string cycle = PlanError(
      "FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\nCOPY --from=a / /\n", Linux());
  CHECK_THAT(cycle, Catch::Contains("circular dependency detected on stage: a (a -> b -> a)"));
  CHECK_THAT(cycle, Catch::StartsWith("Dockerfile:2:1:"));
  CHECK_THAT(PlanError("FROM scratch AS a\nCOPY --from=a / /\n", Linux()),
             Catch::Contains("circular dependency detected on stage: a"));
  CHECK_THAT(
      PlanError("FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\nFROM a\n", Linux()),
      Catch::Contains(
          "cannot copy from stage \"b\", it needs to be defined before current stage \"a\""));
  // A later stage referenced only by a pruned stage is fine.
  PlanOptions o = Linux();
  o.target = "b";
  CHECK(PlanBuild(Df("FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\n"), o).ok());
}

TEST_CASE("image names of needed stages must be valid references", "[plan]") {
  BuildPlan p = Plan("FROM alpine:3.19 AS a\nFROM Bad AS unused\nFROM a\n", Linux());
  CHECK(p.stages[0].base_ref == "docker.io/library/alpine:3.19");
  CHECK(p.stages[1].base_ref.empty());  // pruned: not resolved, as BuildKit
  CHECK_THAT(PlanError("FROM Builder\n", Linux()),
             Catch::StartsWith("Dockerfile:1:6: failed to parse stage name \"Builder\""));
  CHECK_THAT(PlanError("FROM scratch\nCOPY --from=Nginx a b\n", Linux()),
             Catch::Contains("failed to parse stage name \"Nginx\""));
}

TEST_CASE("FROM a later stage name means an image", "[plan]") {
  BuildPlan p = Plan("FROM later AS first\nFROM scratch AS later\n", Linux());
  CHECK(p.stages[0].base_kind == BaseKind::kImage);
}

TEST_CASE("ONBUILD triggers of a base stage run first in stages built on it", "[plan]") {
  BuildPlan p = Plan(
      "FROM scratch AS gen\nFROM scratch AS base\nONBUILD COPY --from=gen /g /g\nONBUILD ENV X=1\n"
      "FROM scratch AS unrelated\nFROM base\nRUN use\n",
      Linux());
  const PlannedStage& last = p.stages[3];
  REQUIRE(last.commands.size() == 3);
  CHECK(std::holds_alternative<CopyCommand>(last.commands[0]));
  CHECK(std::holds_alternative<EnvCommand>(last.commands[1]));
  CHECK(Value(last.env, "X") == "1");
  CHECK(p.stages[0].needed);  // needed through the trigger
  CHECK_FALSE(p.stages[2].needed);
}

TEST_CASE("unknown targets, blank base names and bad platforms are errors", "[plan]") {
  PlanOptions o = Linux();
  o.target = "buidl";
  CHECK_THAT(PlanError("FROM scratch AS build\n", o),
             Catch::Contains("target stage \"buidl\" could not be found (did you mean build?)"));
  CHECK_THAT(PlanError("ARG B\nFROM $B\n", Linux()),
             Catch::Contains("base name ($B) should not be blank"));
  CHECK_THAT(PlanError("FROM --platform=linux/a/b/c scratch\n", Linux()),
             Catch::Contains("failed to parse platform"));
  CHECK_THAT(PlanError("FROM scratch\nSTOPSIGNAL NOPE\n", Linux()),
             Catch::Contains("Invalid signal: NOPE"));
  CHECK_THAT(PlanError("FROM scratch\nEXPOSE 80/xtp\n", Linux()),
             Catch::Contains("invalid proto: xtp"));
}

TEST_CASE("duplicate and reserved stage names warn", "[plan]") {
  BuildPlan p = Plan("FROM scratch AS a\nFROM scratch AS a\nFROM scratch AS context\n", Linux());
  REQUIRE(p.warnings.size() == 2);
  CHECK(p.warnings[0].rule == "DuplicateStageName");
  CHECK_THAT(p.warnings[0].message, Catch::Contains("Duplicate stage name \"a\""));
  CHECK(p.warnings[1].rule == "ReservedStageName");
  CHECK_THAT(p.warnings[1].message, Catch::Contains("reserved stage \"context\""));
}

TEST_CASE("platforms parse and normalise as containerd does", "[plan]") {
  CHECK(ParsePlatform("linux/amd64")->Format() == "linux/amd64");
  CHECK(ParsePlatform("linux/x86_64")->Format() == "linux/amd64");
  CHECK(ParsePlatform("linux/aarch64")->Format() == "linux/arm64");
  CHECK(ParsePlatform("linux/arm64/v8")->Format() == "linux/arm64");
  CHECK(ParsePlatform("linux/arm")->Format() == "linux/arm/v7");
  CHECK(ParsePlatform("linux/armhf")->Format() == "linux/arm/v7");
  CHECK(ParsePlatform("Linux/ARM/6")->Format() == "linux/arm/v6");
  CHECK(ParsePlatform("arm64")->os == "linux");
  CHECK(ParsePlatform("linux")->arch == HostPlatform().arch);
  CHECK_FALSE(ParsePlatform("linux/*").ok());
  CHECK_FALSE(ParsePlatform("nonsense").ok());
  CHECK_FALSE(ParsePlatform("linux//amd64").ok());
}

TEST_CASE("platform lists parse each entry and refuse one listed twice", "[plan]") {
  Result<std::vector<Platform>> two = ParsePlatforms("linux/amd64,linux/arm64/v8");
  REQUIRE(two.ok());
  REQUIRE(two->size() == 2);
  CHECK((*two)[0].Format() == "linux/amd64");
  CHECK((*two)[1].Format() == "linux/arm64");
  CHECK(ParsePlatforms("linux/arm64")->size() == 1);
  Result<std::vector<Platform>> twice = ParsePlatforms("linux/amd64,linux/x86_64");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.status().message() == "linux/amd64 is listed twice");
  CHECK_FALSE(ParsePlatforms("linux/amd64,").ok());
  CHECK_FALSE(ParsePlatforms("linux/amd64,nonsense").ok());
}

TEST_CASE("exposed ports: ranges, protocols, host parts", "[plan]") {
  CHECK(*ParseExposedPorts({"80", "53/UDP", "9000-9002/tcp"}) ==
        std::vector<std::string>{"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "9002/tcp"});
  CHECK(*ParseExposedPorts({"127.0.0.1:8080:80", "[::1]:53:53/udp"}) ==
        std::vector<std::string>{"80/tcp", "53/udp"});
  CHECK_FALSE(ParseExposedPorts({"70000"}).ok());
  CHECK_FALSE(ParseExposedPorts({"9002-9000"}).ok());
  CHECK_FALSE(ParseExposedPorts({"/tcp"}).ok());
  CHECK_FALSE(ParseExposedPorts({"bad.ip:1:1"}).ok());
}

TEST_CASE("the plan renders as JSON with graph and expansions", "[plan]") {
  BuildPlan p = Plan("FROM scratch AS a\nFROM scratch\nCOPY --from=a / /\n", Linux());
  nlohmann::json j = PlanToJson(p);
  CHECK(j["target"]["index"] == 1);
  CHECK(j["waves"] == nlohmann::json::parse("[[0],[1]]"));
  CHECK(j["stages"][1]["deps"][0]["stage"] == 0);
  CHECK(j["stages"][1]["instructions"][0]["text"] == "COPY --from=a / /");
}

TEST_CASE("the buildah dialect: FROM in other letter case, COPY --from=$ARG", "[plan]") {
  const char* text =
      "ARG WHICH=builder\nFROM alpine AS Builder\nRUN true\nFROM Builder\nARG WHICH\n"
      "COPY --from=$WHICH /a /b\n";
  BuildPlan p = Plan(text, Linux());
  REQUIRE(p.stages[1].base_stage == size_t{0});
  REQUIRE(p.stages[1].deps.size() == 1);
  CHECK(p.stages[1].deps[0].stage == size_t{0});
  CHECK(Cmd<CopyCommand>(p.stages[1], 1).from == "builder");
  std::vector<std::string> reported;
  for (const Warning& w : p.warnings) {
    if (w.rule == "BuildahExtension") reported.push_back(std::to_string(w.position.line));
  }
  CHECK(reported == std::vector<std::string>{"4", "6"});
  // A build arg picks another stage; an unknown name is an image.
  PlanOptions o = Linux();
  o.build_args["WHICH"] = "alpine:3";
  BuildPlan image = Plan(text, o);
  CHECK_FALSE(image.stages[1].deps[0].stage);
  CHECK(image.stages[1].deps[0].image == "docker.io/library/alpine:3");
  PlanOptions strict = Linux();
  strict.dialect = Dialect::kBuildKit;
  CHECK_THAT(PlanError(text, strict),
             Catch::StartsWith("Dockerfile:6:6: variable expansion is not supported for --from, "
                               "define a new stage with FROM using ARG from global scope as a "
                               "workaround\n"));
  CHECK_THAT(PlanError("FROM alpine AS Builder\nFROM Builder\n", strict),
             Catch::StartsWith("Dockerfile:2:6: failed to parse stage name \"Builder\": invalid "
                               "reference format: repository name (library/Builder) must be "
                               "lowercase\n"));
  CHECK_THAT(PlanError("FROM alpine\nARG E\nCOPY --from=$E /a /b\n", Linux()),
             Catch::Contains("--from=$E expands to an empty name"));
}

}  // namespace
}  // namespace hoist::dockerfile
