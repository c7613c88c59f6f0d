// BuildKit's build checks: each rule fires with BuildKit's wording on the
// line it names, and stays quiet on the compliant form; `# check=` and the
// BUILDKIT_DOCKERFILE_CHECK build arg select and escalate them.
#include "builder/dockerfile/checks.h"

#include <catch2/catch.hpp>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/plan.h"
#include "tests/dockerfile/hoist_cli.h"

namespace hoist::dockerfile {
namespace {

PlanOptions Linux() {
  PlanOptions o;
  o.build_platform = Platform{"linux", "amd64", ""};
  o.target_platform = Platform{"linux", "amd64", ""};
  return o;
}

Result<BuildPlan> TryPlan(std::string_view text, const PlanOptions& opt) {
  Result<Dockerfile> df =
      ParseDockerfile(std::make_shared<const Source>("Dockerfile", std::string(text)));
  INFO((df.ok() ? std::string() : df.status().message()));
  REQUIRE(df.ok());
  return PlanBuild(*df, opt);
}

// Every warning a build of `text` reports.
std::vector<Warning> Warnings(std::string_view text, const PlanOptions& opt = Linux()) {
  Result<BuildPlan> plan = TryPlan(text, opt);
  INFO((plan.ok() ? std::string() : plan.status().message()));
  REQUIRE(plan.ok());
  return plan->warnings;
}

// "LINE: message" for each check of `rule` in a build of `text`.
std::vector<std::string> Fired(const CheckRule& rule, std::string_view text,
                               const PlanOptions& opt = Linux()) {
  std::vector<std::string> out;
  for (const Warning& w : Warnings(text, opt)) {
    if (w.rule == rule.name) out.push_back(std::to_string(w.position.line) + ": " + w.message);
  }
  return out;
}

using Lines = std::vector<std::string>;

std::vector<std::string> Rules(const std::vector<Warning>& warnings) {
  std::vector<std::string> out;
  for (const Warning& w : warnings) out.push_back(w.rule);
  return out;
}

// One rule: Dockerfiles on which it fires, with what it reports ("LINE:
// message", in order), and compliant forms on which it stays quiet.
struct RuleCase {
  const CheckRule* rule;
  std::vector<std::pair<std::string, Lines>> fires;
  std::vector<std::string> quiet;
};

const std::vector<RuleCase>& RuleCases() {
  static const std::vector<RuleCase> cases = {
      {&kStageNameCasing,
       {{"FROM scratch AS Build\n", {"1: Stage name 'Build' should be lowercase"}}},
       {"FROM scratch AS build\n"}},
      {&kFromAsCasing,
       {{"FROM scratch as build\n", {"1: 'as' and 'FROM' keywords' casing do not match"}},
        {"from scratch AS build\n", {"1: 'AS' and 'from' keywords' casing do not match"}}},
       {"FROM scratch AS build\nfrom scratch as other\n",
        "From scratch as build\n"}},  // a mixed-case FROM is ConsistentInstructionCasing's
      // BuildKit points at the instruction's last line.
      {&kNoEmptyContinuation,
       {{"FROM scratch\nEXPOSE \\\n\n80\n", {"4: Empty continuation line"}}},
       {"FROM scratch\nEXPOSE \\\n# Port\n80\n"}},
      {&kConsistentInstructionCasing,
       {{"FROM scratch\nrun true\nCMD [\"a\"]\n",
         {"2: Command 'run' should match the case of the command majority (uppercase)"}},
        {"from scratch\nRun true\ncmd [\"a\"]\n",
         {"2: Command 'Run' should match the case of the command majority (lowercase)"}}},
       {"FROM scratch\nRUN true\n", "from scratch\nrun true\n"}},
      {&kDuplicateStageName,
       {{"FROM scratch AS a\nFROM scratch AS a\n",
         {"2: Duplicate stage name \"a\", stage names should be unique"}}},
       {"FROM scratch AS a\nFROM scratch AS b\n"}},
      {&kReservedStageName,
       {{"FROM scratch AS context\n",
         {"1: Stage name should not use the same name as reserved stage \"context\""}}},
       {"FROM scratch AS ctx\n"}},
      // A SHELL (here inherited from the base stage) makes the shell form deliberate.
      {&kJSONArgsRecommended,
       {{"FROM scratch\nCMD echo hi\nENTRYPOINT run.sh\n",
         {"2: JSON arguments recommended for CMD to prevent unintended behavior related to OS "
          "signals",
          "3: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to "
          "OS signals"}}},
       {"FROM scratch\nCMD [\"echo\", \"hi\"]\n",
        "FROM scratch AS base\nSHELL [\"/bin/bash\", \"-c\"]\nFROM base\nCMD echo hi\n"}},
      {&kMaintainerDeprecated,
       {{"FROM scratch\nMAINTAINER me@example.com\n",
         {"2: Maintainer instruction is deprecated in favor of using label"}}},
       {"FROM scratch\nLABEL org.opencontainers.image.authors=me\n"}},
      {&kUndefinedArgInFrom,
       {{"ARG VERSION=1\nFROM alpine:${VERSON:-1}\n",
         {"2: FROM argument 'VERSON' is not declared (did you mean VERSION?)"}}},
       {"ARG VERSION=1\nFROM alpine:$VERSION\n",
        "ARG V\nFROM alpine${V}\n",  // declared, unset
        "FROM --platform=$BUILDPLATFORM alpine\n"}},
      {&kWorkdirRelativePath,
       {{"FROM scratch\nWORKDIR app/src\nWORKDIR more\n",
         {"2: Relative workdir \"app/src\" can have unexpected results if the base image "
          "changes"}}},
       {"FROM scratch\nWORKDIR /app\nWORKDIR src\n",
        "FROM scratch AS a\nWORKDIR /a\nFROM a\nWORKDIR b\n",
        "FROM scratch\nENV D=/srv\nWORKDIR $D\n"}},
      {&kUndefinedVar,
       {{"FROM scratch\nCOPY $foo /x\n", {"2: Usage of undefined variable '$foo'"}},
        {"FROM scratch\nENV PATH=$PAHT:/app/bin\n",
         {"2: Usage of undefined variable '$PAHT' (did you mean $PATH?)"}}},
       {"FROM scratch\nARG foo\nCOPY $foo /x\n",
        "FROM scratch\nENV foo=a\nCOPY $foo /x\nRUN echo $bar\n",
        "FROM scratch AS a\nARG foo\nFROM a\nCOPY $foo /x\n",
        // A base image's environment is unknown (but see the next test case).
        "FROM alpine\nARG VERSION=$PYTHON_VERSION\n"}},
      // Reported at the instruction that has no effect: the earlier one.
      {&kMultipleInstructionsDisallowed,
       {{"FROM scratch\nCMD [\"a\"]\nHEALTHCHECK NONE\nCMD [\"b\"]\n",
         {"2: Multiple CMD instructions should not be used in the same stage because only the "
          "last one will be used"}}},
       {"FROM scratch AS a\nENTRYPOINT [\"a\"]\nFROM a\nENTRYPOINT [\"b\"]\n"}},
      {&kLegacyKeyValueFormat,
       {{"FROM scratch\nENV A 1\nlabel b 2\n",
         {"2: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format",
          "3: \"label key=value\" should be used instead of legacy \"label key value\" "
          "format"}}},
       {"FROM scratch\nENV A=1\nLABEL b=2\n"}},
      {&kRedundantTargetPlatform,
       {{"FROM --platform=$TARGETPLATFORM alpine AS builder\n",
         {"1: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the "
          "default behavior"}},
        {"FROM --platform=${TARGETPLATFORM} scratch\n",
         {"1: Setting platform to predefined ${TARGETPLATFORM} in FROM is redundant as this is "
          "the default behavior"}}},
       {"FROM --platform=$BUILDPLATFORM alpine\n"}},
      {&kSecretsUsedInArgOrEnv,
       {{"FROM scratch\nARG GITHUB_TOKEN\nENV db_password=x\n",
         {"2: Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")",
          "3: Do not use ARG or ENV instructions for sensitive data (ENV \"db_password\")"}}},
       {"FROM scratch\nARG PUBLIC_KEY\nARG TOKEN_FILE\nENV KEYS=1 MONKEY=2 AUTHOR=me\n"}},
      {&kInvalidDefaultArgInFrom,
       {},  // firing needs a --build-arg to plan at all: below
       {"ARG TAG=latest\nFROM busybox:${TAG}\n", "ARG VARIANT\nFROM busybox:stable${VARIANT}\n",
        "ARG TAG\nFROM alpine:${TAG:-3.14}\n"}},
      {&kFromPlatformFlagConstDisallowed,
       {{"FROM --platform=linux/amd64 alpine AS base\n",
         {"1: FROM --platform flag should not use constant value \"linux/amd64\""}}},
       {"FROM --platform=linux/arm64 alpine AS build_arm64\n",
        "FROM --platform=${BUILDPLATFORM} alpine\n"}},
      {&kExposeProtoCasing,
       {{"FROM scratch\nEXPOSE 80/TCP 53/udp\n",
         {"2: Defined protocol '80/TCP' in EXPOSE instruction should be lowercase"}}},
       {"FROM scratch\nEXPOSE 80/tcp\n"}},
      {&kExposeInvalidFormat,
       {{"FROM scratch\nEXPOSE 127.0.0.1:80:80 8080:80 443\n",
         {"2: EXPOSE instruction should not define an IP address or host-port mapping, found "
          "'127.0.0.1:80:80'",
          "2: EXPOSE instruction should not define an IP address or host-port mapping, found "
          "'8080:80'"}}},
       {"FROM scratch\nEXPOSE 80 90-95/udp\n"}},
      // hoist's own: the buildah/podman dialect (PlanOptions::dialect).
      {&kBuildahExtension,
       {{"FROM scratch AS base\nFROM Base\nRUN --mount=type=tmpfs,target=/t,tmpcopyup,Z true\n",
         {"2: FROM Base names stage \"base\" in other letter case (a buildah/podman extension; "
          "BuildKit looks for an image of that name)",
          "3: RUN --mount option 'tmpcopyup' is a buildah/podman extension (the tmpfs starts with "
          "the target's contents)",
          "3: RUN --mount option 'Z' is a buildah/podman extension (accepted and ignored: no "
          "SELinux labels or ownership changes here)"}}},
       {"FROM scratch AS base\nFROM base\nRUN --mount=type=tmpfs,target=/t true\n"}},
      // Experimental: only when enabled.
      {&kInvalidDefinitionDescription,
       {{"# check=experimental=InvalidDefinitionDescription\n"
         "# the version to build\nARG VERSION=1\n"
         "# base the image everything starts from\nFROM scratch AS base\n",
         {"3: Comment for ARG should follow the format: `# VERSION <description>`"}}},
       {"# the version\nARG VERSION=1\nFROM scratch\n"}},
  };
  return cases;
}

TEST_CASE("each check fires with BuildKit's wording, and not on compliant forms", "[checks]") {
  for (const RuleCase& c : RuleCases()) {
    DYNAMIC_SECTION(c.rule->name) {
      for (const auto& [text, expected] : c.fires) {
        INFO(text);
        CHECK(Fired(*c.rule, text) == expected);
      }
      for (const std::string& text : c.quiet) {
        INFO(text);
        CHECK(Fired(*c.rule, text).empty());
      }
    }
  }
}

TEST_CASE("every rule but the image-dependent one has a case", "[checks]") {
  std::set<std::string_view> covered = {kCopyIgnoredFile.name};  // below
  for (const RuleCase& c : RuleCases()) covered.insert(c.rule->name);
  for (const CheckRule* r : kCheckRules) CHECK(covered.count(r->name) == 1);
  CHECK(covered.size() == std::size(kCheckRules));
  CHECK(FindCheckRule("UndefinedVar") == &kUndefinedVar);
  CHECK(FindCheckRule("InvalidBaseImagePlatform") == nullptr);  // needs the pulled image
}

TEST_CASE("checks that depend on the build's options", "[checks]") {
  SECTION("UndefinedArgInFrom: a build arg still needs an ARG") {
    PlanOptions o = Linux();
    o.build_args = {{"SUFFIX", "3.20"}};
    CHECK(Fired(kUndefinedArgInFrom, "FROM alpine${SUFFIX}\n", o) ==
          Lines{"1: FROM argument 'SUFFIX' is not declared"});
  }
  SECTION("InvalidDefaultArgInFrom: the defaults alone must name an image") {
    PlanOptions o = Linux();
    o.build_args = {{"TAG", "1.36"}};
    CHECK(Fired(kInvalidDefaultArgInFrom, "ARG TAG\nFROM busybox:${TAG}\n", o) ==
          Lines{"2: Default value for ARG busybox:${TAG} results in empty or invalid base image "
                "name"});
  }
  SECTION("UndefinedVar: with the base image's environment known") {
    PlanOptions o = Linux();
    o.base_image_env = [](const std::string&, const Platform&) {
      return std::optional<std::vector<std::string>>({"PYTHON_VERSION=3.12"});
    };
    CHECK(Fired(kUndefinedVar, "FROM alpine\nARG VERSION=$PYTHON_VERSION\n", o).empty());
    CHECK(Fired(kUndefinedVar, "FROM alpine\nARG VERSION=$PYTHON_VERSON\n", o) ==
          Lines{"2: Usage of undefined variable '$PYTHON_VERSON' (did you mean "
                "$PYTHON_VERSION?)"});
  }
  SECTION("CopyIgnoredFile: sources of the context the .dockerignore leaves out") {
    Result<DockerIgnore> ignore = DockerIgnore::Parse("tmp\n*.log\n");
    REQUIRE(ignore.ok());
    PlanOptions o = Linux();
    o.dockerignore = &*ignore;
    CHECK(Fired(kCopyIgnoredFile,
                "FROM scratch\nCOPY ./tmp/hello.txt /hello.txt\nADD build.log /\n"
                "ADD https://example.com/a.log /\n",
                o) ==
          Lines{"2: Attempting to Copy file \"tmp/hello.txt\" that is excluded by .dockerignore",
                "3: Attempting to Add file \"build.log\" that is excluded by .dockerignore"});
    CHECK(Fired(kCopyIgnoredFile, "FROM scratch\nCOPY forever/hello.txt . /\n", o).empty());
    CHECK(Fired(kCopyIgnoredFile, "FROM scratch AS a\nFROM scratch\nCOPY --from=a tmp /\n", o)
              .empty());
    // With "!" exceptions BuildKit does not guess.
    Result<DockerIgnore> except = DockerIgnore::Parse("tmp\n!tmp/keep\n");
    o.dockerignore = &*except;
    CHECK(Fired(kCopyIgnoredFile, "FROM scratch\nCOPY tmp/x /\n", o).empty());
    Result<DockerIgnore> all = DockerIgnore::Parse("*\n");
    o.dockerignore = &*all;
    CHECK(Fired(kCopyIgnoredFile, "FROM scratch\nCOPY . /\n", o) ==
          Lines{"2: Attempting to Copy file \".\" that is excluded by .dockerignore"});
  }
}

TEST_CASE("checks run on every stage when asked, on the needed ones otherwise", "[checks]") {
  const char* text = "FROM scratch AS unused\nCMD run\nFROM scratch\nCMD [\"ok\"]\n";
  CHECK(Fired(kJSONArgsRecommended, text).empty());
  PlanOptions o = Linux();
  o.check_all_stages = true;
  Result<BuildPlan> plan = TryPlan(text, o);
  REQUIRE(plan.ok());
  REQUIRE(plan->warnings.size() == 1);
  CHECK(plan->warnings[0].rule == "JSONArgsRecommended");
  CHECK_FALSE(plan->stages[0].needed);
  CHECK(plan->stages[0].commands.empty());  // checked, not planned
}

TEST_CASE("check=skip drops rules by name; unknown names are ignored", "[checks]") {
  const char* body = "FROM scratch\nCMD echo\nMAINTAINER me\n";
  CHECK(Rules(Warnings(std::string("# check=skip=JSONArgsRecommended,NoSuchRule\n") + body)) ==
        Lines{"MaintainerDeprecated"});
  CHECK(Rules(Warnings(std::string("#check = skip=MaintainerDeprecated,JSONArgsRecommended\n") +
                       body))
            .empty());
}

TEST_CASE("check=skip=all drops every check but keeps plain warnings", "[checks]") {
  PlanOptions o = Linux();
  o.build_args = {{"UNUSED", "1"}};
  std::vector<Warning> w = Warnings("# check=skip=all\nFROM scratch\nCMD echo\nENV A 1\n", o);
  REQUIRE(w.size() == 1);
  CHECK(w[0].rule.empty());
  CHECK_THAT(w[0].message, Catch::Contains("build-args [UNUSED] were not consumed"));
}

TEST_CASE("a check=skip comment above an instruction skips its checks", "[checks]") {
  std::vector<Warning> w =
      Warnings("FROM scratch\n# check=skip=JSONArgsRecommended\nCMD echo\nENTRYPOINT echo\n");
  REQUIRE(w.size() == 1);
  CHECK(w[0].position.line == 4);
}

TEST_CASE("check=error=true turns reported checks into an error listing them", "[checks]") {
  Result<BuildPlan> plan =
      TryPlan("# check=error=true\nFROM scratch\nCMD echo\nMAINTAINER me\nCMD [\"x\"]\n", Linux());
  REQUIRE_FALSE(plan.ok());
  const std::string& msg = plan.status().message();
  CHECK_THAT(msg, Catch::StartsWith("Dockerfile: lint violation found for rules: "
                                    "JSONArgsRecommended, MultipleInstructionsDisallowed, "
                                    "MaintainerDeprecated\n"));
  CHECK_THAT(msg, Catch::Contains("Dockerfile:3: JSONArgsRecommended: JSON arguments recommended "
                                  "for CMD to prevent unintended behavior related to OS signals"));
  CHECK_THAT(plan.status().detail(), Catch::Contains("\"rule\":\"MaintainerDeprecated\""));
  // Combined with skip: nothing left to report, nothing fails.
  CHECK(TryPlan("# check=skip=JSONArgsRecommended;error=true\nFROM scratch\nCMD echo\n", Linux())
            .ok());
  CHECK(TryPlan("# check=error=false\nFROM scratch\nCMD echo\n", Linux()).ok());
}

TEST_CASE("BUILDKIT_DOCKERFILE_CHECK overrides the directive", "[checks]") {
  const char* text = "# check=skip=all\nFROM scratch\nCMD echo\nMAINTAINER me\n";
  PlanOptions o = Linux();
  o.build_args = {{"BUILDKIT_DOCKERFILE_CHECK", "skip=MaintainerDeprecated"}};
  std::vector<Warning> w = Warnings(text, o);
  CHECK(Rules(w) == Lines{"JSONArgsRecommended"});  // and the arg is not "unused"
  o.build_args = {{"BUILDKIT_DOCKERFILE_CHECK", "error=true"}};
  CHECK_FALSE(TryPlan(text, o).ok());
  // The directive is not read at all then, malformed or not.
  o.build_args = {{"BUILDKIT_DOCKERFILE_CHECK", ""}};
  CHECK(TryPlan("# check=nonsense\nFROM scratch\n", o).ok());
  o.build_args = {{"BUILDKIT_DOCKERFILE_CHECK", "skip"}};
  Result<BuildPlan> bad = TryPlan("FROM scratch\n", o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "Dockerfile: failed to parse BUILDKIT_DOCKERFILE_CHECK: invalid check option \"skip\"");
}

TEST_CASE("a malformed check directive is an error at its line", "[checks]") {
  Result<BuildPlan> plan =
      TryPlan("# syntax=docker/dockerfile:1\n# check=skip\nFROM scratch\n", Linux());
  REQUIRE_FALSE(plan.ok());
  CHECK_THAT(plan.status().message(),
             Catch::StartsWith("Dockerfile:2:1: failed to parse check options: invalid check "
                               "option \"skip\""));
  CHECK_THAT(TryPlan("# check=error=maybe\nFROM scratch\n", Linux()).status().message(),
             Catch::Contains("failed to parse check option \"error=maybe\": strconv.ParseBool: "
                             "parsing \"maybe\": invalid syntax"));
  CHECK_THAT(TryPlan("# check=skip=A;bogus=1\nFROM scratch\n", Linux()).status().message(),
             Catch::Contains("invalid check option \"bogus\""));
}

TEST_CASE("check options parse as BuildKit's ParseLintOptions", "[checks]") {
  Result<CheckConfig> c = ParseCheckOptions(" skip = A, B ;error=TRUE");
  REQUIRE(c.ok());
  CHECK(c->skip == std::set<std::string, std::less<>>{"A", "B"});
  CHECK(c->error);
  CHECK_FALSE(c->skip_all);
  // At most three options: a third keeps any further ';'.
  Result<CheckConfig> three = ParseCheckOptions("error=1;skip=all;experimental=X;Y");
  REQUIRE(three.ok());
  CHECK(three->skip_all);
  CHECK(three->experimental == std::set<std::string, std::less<>>{"X;Y"});
  CHECK(ParseCheckOptions("").ok());
  CHECK_FALSE(ParseCheckOptions("skip=A;").ok());  // an empty option has no '='
  // The directive's value ends at the first space, as BuildKit reads it.
  CHECK(CheckDirectiveValue("skip=A error=true") == "skip=A");
  CHECK_FALSE(c->Reports("A"));
  CHECK(c->Reports("JSONArgsRecommended"));
  CHECK_FALSE(c->Reports("NoSuchRule"));
  CHECK_FALSE(CheckConfig().Reports("InvalidDefinitionDescription"));  // experimental
}

// ---- The CLI -----------------------------------------------------------------

TEST_CASE("dockerfile parse prints checks with their rule name", "[checks][cli]") {
  testing::Workdir w;
  w.Write("Dockerfile",
          "FROM alpine AS unused\nENTRYPOINT run\nFROM alpine\nMAINTAINER me\nCMD echo hi\n");
  testing::Run r = w.Hoist("dockerfile parse Dockerfile");
  CHECK(r.rc == 0);
  CHECK_THAT(r.err, Catch::Contains("Dockerfile:5: JSONArgsRecommended: JSON arguments recommended "
                                    "for CMD to prevent unintended behavior related to OS signals\n"
                                    "  CMD echo hi\n"));
  // Without --target every stage is checked, as BuildKit's --check does.
  CHECK_THAT(r.err, Catch::Contains("Dockerfile:2: JSONArgsRecommended: JSON arguments recommended "
                                    "for ENTRYPOINT"));
  testing::Run target = w.Hoist("dockerfile parse --target unused Dockerfile");
  CHECK(target.rc == 0);
  CHECK_THAT(target.err, Catch::Contains("Dockerfile:2: JSONArgsRecommended"));
  CHECK_THAT(target.err, !Catch::Contains("Dockerfile:5:"));

  testing::Run json = w.Hoist("dockerfile parse --json Dockerfile");
  REQUIRE(json.rc == 0);
  nlohmann::json j = nlohmann::json::parse(json.out);
  REQUIRE(j["warnings"].size() == 3);
  CHECK(
      j["warnings"][1] ==
      nlohmann::json{{"rule", "MaintainerDeprecated"},
                     {"line", 4},
                     {"message", "Maintainer instruction is deprecated in favor of using label"}});
  CHECK(j["plan"]["warnings"] == j["warnings"]);

  testing::Run skipped = w.Hoist(
      "dockerfile parse --build-arg BUILDKIT_DOCKERFILE_CHECK=skip=JSONArgsRecommended Dockerfile");
  CHECK(skipped.rc == 0);
  CHECK_THAT(skipped.err, !Catch::Contains("JSONArgsRecommended"));
  CHECK_THAT(skipped.err, Catch::Contains("MaintainerDeprecated"));
}

TEST_CASE("dockerfile parse exits 1 when check=error=true finds something", "[checks][cli]") {
  testing::Workdir w;
  w.Write("Dockerfile", "# check=error=true\nFROM alpine\nCMD echo hi\n");
  testing::Run r = w.Hoist("dockerfile parse Dockerfile");
  CHECK(r.rc == 1);
  CHECK(r.out.empty());
  CHECK(r.err ==
        "Dockerfile: lint violation found for rules: JSONArgsRecommended\n"
        "Dockerfile:3: JSONArgsRecommended: JSON arguments recommended for CMD to prevent "
        "unintended behavior related to OS signals\n"
        "  CMD echo hi\n"
        "  ^\n");
  CHECK(
      w.Hoist("dockerfile parse --build-arg BUILDKIT_DOCKERFILE_CHECK=error=false Dockerfile").rc ==
      0);
  w.Write("Compliant", "# check=error=true\nFROM alpine\nCMD [\"echo\", \"hi\"]\n");
  CHECK(w.Hoist("dockerfile parse Compliant").rc == 0);
  w.Write("Malformed", "# check=skip\nFROM alpine\n");
  testing::Run bad = w.Hoist("dockerfile parse Malformed");
  CHECK(bad.rc == 1);
  CHECK_THAT(bad.err, Catch::StartsWith("Malformed:1:1: failed to parse check options: invalid "
                                        "check option \"skip\""));
}

TEST_CASE("dockerfile parse --dump applies the configuration to the parser's checks",
          "[checks][cli]") {
  testing::Workdir w;
  w.Write("Dockerfile", "FROM alpine\nRUN a \\\n\n  b\n");
  testing::Run r = w.Hoist("dockerfile parse --dump Dockerfile");
  CHECK(r.rc == 0);
  CHECK_THAT(r.err,
             Catch::StartsWith("Dockerfile:4: NoEmptyContinuation: Empty continuation line"));
  w.Write("Skip", "# check=skip=NoEmptyContinuation\nFROM alpine\nRUN a \\\n\n  b\n");
  testing::Run s = w.Hoist("dockerfile parse --dump Skip");
  CHECK(s.rc == 0);
  CHECK(s.err.empty());
}

TEST_CASE("build --print-plan checks COPY sources against .dockerignore", "[checks][cli]") {
  testing::Workdir w;
  w.Write("ctx/Dockerfile", "FROM scratch\nCOPY secrets/key.pem /\n");
  w.Write("ctx/.dockerignore", "secrets\n");
  testing::Run r = w.Hoist("build --print-plan ctx");
  CHECK(r.rc == 0);
  CHECK_THAT(r.err, Catch::Contains("ctx/Dockerfile:2: CopyIgnoredFile: Attempting to Copy file "
                                    "\"secrets/key.pem\" that is excluded by .dockerignore"));
}

}  // namespace
}  // namespace hoist::dockerfile
