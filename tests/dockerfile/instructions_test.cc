// Typed instructions: each instruction's flags and argument rules.
#include "builder/dockerfile/instructions.h"

#include <catch2/catch.hpp>

#include "builder/dockerfile/parser.h"

namespace hoist::dockerfile {
namespace {

Dockerfile MustParse(std::string_view text) {
  Result<Dockerfile> df =
      ParseDockerfile(std::make_shared<const Source>("Dockerfile", std::string(text)));
  INFO((df.ok() ? std::string() : df.status().message()));
  REQUIRE(df.ok());
  return std::move(df).value();
}

std::string ErrorOf(std::string_view text) {
  Result<Dockerfile> df =
      ParseDockerfile(std::make_shared<const Source>("Dockerfile", std::string(text)));
  REQUIRE_FALSE(df.ok());
  return df.status().message();
}

// The only command of the only stage of "FROM base\n" + line.
template <class T>
T One(std::string_view line) {
  Dockerfile df = MustParse("FROM base\n" + std::string(line) + "\n");
  REQUIRE(df.stages.size() == 1);
  REQUIRE(df.stages[0].commands.size() == 1);
  const T* c = std::get_if<T>(&df.stages[0].commands[0]);
  REQUIRE(c != nullptr);
  return *c;
}

TEST_CASE("FROM: --platform, AS name (lower-cased, validated)", "[instructions]") {
  Dockerfile df = MustParse("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nFROM build\n");
  REQUIRE(df.stages.size() == 2);
  CHECK(df.stages[0].platform == "$BUILDPLATFORM");
  CHECK(df.stages[0].base_name == "golang:1.22");
  CHECK(df.stages[0].name == "build");
  CHECK(df.stages[1].name.empty());
  CHECK_THAT(ErrorOf("FROM a AS 1x\n"), Catch::Contains("invalid name for build stage: \"1x\""));
  CHECK_THAT(ErrorOf("FROM a b\n"), Catch::Contains("FROM requires either one or three arguments"));
  CHECK_THAT(ErrorOf("FROM --platfrom=x a\n"),
             Catch::Contains("unknown flag: --platfrom (did you mean platform?)"));
}

TEST_CASE("RUN: mounts, network, security, device, exec and shell form", "[instructions]") {
  RunCommand run = One<RunCommand>(
      "RUN --mount=type=cache,target=/root/.cache,id=go,sharing=locked "
      "--mount=type=secret,id=tok,env=TOKEN --mount=from=build,src=/out,target=/in "
      "--network=none --security=insecure --device=nvidia.com/gpu=all,required make all");
  CHECK(run.cmdline.prepend_shell);
  CHECK(run.cmdline.args == std::vector<std::string>{"make all"});
  REQUIRE(run.mounts.size() == 3);
  CHECK(run.mounts[2].from == "build");  // only `from` is read before expansion
  CHECK(run.mount_specs[0] == "type=cache,target=/root/.cache,id=go,sharing=locked");
  CHECK(run.network == "none");
  CHECK(run.security == "insecure");
  REQUIRE(run.devices.size() == 1);
  CHECK(run.devices[0].name == "nvidia.com/gpu=all");
  CHECK(run.devices[0].required);

  RunCommand exec = One<RunCommand>("RUN [\"echo\", \"a b\"]");
  CHECK_FALSE(exec.cmdline.prepend_shell);
  CHECK(exec.cmdline.args == std::vector<std::string>{"echo", "a b"});

  CHECK_THAT(ErrorOf("FROM a\nRUN --network=bridge x\n"),
             Catch::Contains("invalid network mode \"bridge\""));
  CHECK_THAT(ErrorOf("FROM a\nRUN --security=x y\n"),
             Catch::Contains("security \"x\" is not valid"));
  CHECK_THAT(ErrorOf("FROM a\nRUN --mount=from=$X,target=/a y\n"),
             Catch::Contains("'from' doesn't support variable expansion"));
  CHECK_THAT(ErrorOf("FROM a\nRUN --mount=a\\\"b x\n"),
             Catch::Contains("failed to parse csv mounts"));
}

TEST_CASE("buildah's RUN --mount options are accepted in its dialect only", "[instructions]") {
  struct Expander : WordExpander {
    Result<std::string> Expand(std::string_view w) override { return std::string(w); }
  } ex;
  Result<Mount> m =
      ParseMount("type=tmpfs,target=/t,z,Z,U,relabel=shared,tmpcopyup", &ex, Dialect::kBuildah);
  REQUIRE(m.ok());
  CHECK(m->tmpcopyup);
  CHECK(m->extensions == std::vector<std::string>{"z", "Z", "U", "relabel=shared", "tmpcopyup"});
  CHECK(ParseMount("type=tmpfs,target=/t", &ex, Dialect::kBuildah)->extensions.empty());
  CHECK(ParseMount("type=tmpfs,target=/t,z", &ex).status().message() ==
        "invalid field 'z' must be a key=value pair");
  CHECK(ParseMount("type=tmpfs,target=/t,tmpcopyup", &ex).status().message() ==
        "invalid field 'tmpcopyup' must be a key=value pair");
  CHECK_THAT(ParseMount("type=bind,target=/t,relabel=shared", &ex).status().message(),
             Catch::StartsWith("unexpected key 'relabel' in 'relabel=shared'"));
  CHECK(ParseMount("type=cache,target=/t,tmpcopyup", &ex, Dialect::kBuildah).status().message() ==
        "unexpected key 'tmpcopyup' for mount type 'cache'");
  CHECK(ParseMount("target=/t,relabel=yes", &ex, Dialect::kBuildah).status().message() ==
        "invalid value for relabel: yes");
  // The letters are case-sensitive, as buildah reads them.
  CHECK_FALSE(ParseMount("type=cache,target=/t,u", &ex, Dialect::kBuildah).ok());
}

TEST_CASE("RUN --mount fields are checked once expanded", "[instructions]") {
  struct Expander : WordExpander {
    Result<std::string> Expand(std::string_view w) override { return std::string(w); }
  } ex;
  Result<Mount> cache = ParseMount("type=cache,target=/c,mode=0700,uid=1000,sharing=private", &ex);
  REQUIRE(cache.ok());
  CHECK(cache->type == "cache");
  CHECK_FALSE(cache->read_only);
  CHECK(*cache->mode == 0700);
  CHECK(*cache->uid == 1000);
  Result<Mount> tmpfs = ParseMount("type=tmpfs,target=/t,size=64m", &ex);
  REQUIRE(tmpfs.ok());
  CHECK(tmpfs->size_limit == 64 * 1024 * 1024);
  Result<Mount> bind = ParseMount("target=/b,rw", &ex);
  REQUIRE(bind.ok());
  CHECK(bind->type == "bind");
  CHECK_FALSE(bind->read_only);
  Result<Mount> ssh = ParseMount("type=ssh,required", &ex);
  REQUIRE(ssh.ok());
  CHECK(ssh->required);
  CHECK(ssh->read_only);
  CHECK_THAT(ParseMount("type=volume", &ex).status().message(),
             Catch::Contains("unsupported mount type"));
  CHECK_THAT(ParseMount("type=bind,mode=0700", &ex).status().message(),
             Catch::Contains("mode not allowed for \"bind\" type mounts"));
  CHECK_THAT(ParseMount("type=secret", &ex).status().message(),
             Catch::Contains("one of source, target required"));
  CHECK_THAT(ParseMount("type=secret,src=a,id=b", &ex).status().message(),
             Catch::Contains("both source and id can't be set"));
  CHECK_THAT(ParseMount("type=bind,sharing=shared", &ex).status().message(),
             Catch::Contains("invalid cache sharing"));
  CHECK_THAT(ParseMount("target=/a,size=1g", &ex).status().message(),
             Catch::Contains("unexpected key 'size' for mount type 'bind'"));
  CHECK_THAT(ParseMount("targt=/a", &ex).status().message(),
             Catch::Contains("did you mean target?"));
  CHECK_THAT(ParseMount("type=cache,readonly=maybe", &ex).status().message(),
             Catch::Contains("invalid value for readonly: maybe"));
}

TEST_CASE("COPY: --from, --chown, --chmod, --link, --parents, --exclude", "[instructions]") {
  CopyCommand c = One<CopyCommand>(
      "COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md "
      "--exclude=tmp a b /dst/");
  CHECK(c.from == "build");
  CHECK(c.chown == "app:app");
  CHECK(c.chmod == "0755");
  CHECK(c.link);
  CHECK(c.parents);
  CHECK(c.excludes == std::vector<std::string>{"*.md", "tmp"});
  CHECK(c.files.source_paths == std::vector<std::string>{"a", "b"});
  CHECK(c.files.dest == "/dst/");
  CopyCommand json = One<CopyCommand>("COPY [\"a b\", \"/c d/\"]");
  CHECK(json.files.source_paths == std::vector<std::string>{"a b"});
  CHECK(One<CopyCommand>("COPY --link=false a b").link == false);
  CHECK_THAT(ErrorOf("FROM a\nCOPY onlyone\n"),
             Catch::Contains("COPY requires at least two arguments"));
  CHECK_THAT(ErrorOf("FROM a\nCOPY --link=maybe a b\n"),
             Catch::Contains("expecting boolean value for flag --link, not: maybe"));
  CHECK_THAT(ErrorOf("FROM a\nCOPY --from=a --from=b a b\n"),
             Catch::Contains("duplicate flag specified: --from"));
  CHECK_THAT(ErrorOf("FROM a\nCOPY --from a b\n"),
             Catch::Contains("missing a value on flag: --from"));
  CHECK_THAT(ErrorOf("FROM a\nCOPY --checksum=x a b\n"),
             Catch::Contains("unknown flag: --checksum"));
}

TEST_CASE("COPY and ADD heredoc sources", "[instructions]") {
  CopyCommand c = One<CopyCommand>("COPY <<-A <<'B' /etc/\n\tx $V\nA\ny $V\nB");
  CHECK(c.files.source_paths.empty());
  REQUIRE(c.files.source_contents.size() == 2);
  CHECK(c.files.source_contents[0] == SourceContent{"A", "x $V\n", true});
  CHECK(c.files.source_contents[1] == SourceContent{"B", "y $V\n", false});
  CHECK_THAT(ErrorOf("FROM a\nCOPY a <<EOF\nx\nEOF\n"),
             Catch::Contains("COPY cannot accept a heredoc as a destination"));
}

TEST_CASE("ADD: --checksum, --keep-git-dir, --unpack, --chown, --link, --exclude",
          "[instructions]") {
  AddCommand a = One<AddCommand>(
      "ADD --checksum=sha256:abc --keep-git-dir --unpack=false --chown=1 --link --exclude=x "
      "https://example.com/a.tar /a");
  CHECK(a.checksum == "sha256:abc");
  REQUIRE(a.keep_git_dir.has_value());
  CHECK(*a.keep_git_dir);
  REQUIRE(a.unpack.has_value());
  CHECK_FALSE(*a.unpack);
  CHECK(a.chown == "1");
  CHECK(a.link);
  CHECK(a.excludes == std::vector<std::string>{"x"});
  AddCommand plain = One<AddCommand>("ADD a b");
  CHECK_FALSE(plain.keep_git_dir.has_value());
  CHECK_THAT(ErrorOf("FROM a\nADD --from=x a b\n"), Catch::Contains("unknown flag: --from"));
}

TEST_CASE("ENV and LABEL in both forms", "[instructions]") {
  EnvCommand e = One<EnvCommand>("ENV A=1 B=\"two words\"");
  REQUIRE(e.env.size() == 2);
  CHECK(e.env[1] == KeyValue{"B", "\"two words\"", false});
  EnvCommand legacy = One<EnvCommand>("ENV A one two");
  CHECK(legacy.env[0] == KeyValue{"A", "one two", true});
  LabelCommand l = One<LabelCommand>("LABEL org.opencontainers.image.title=hoist version=1");
  CHECK(l.labels.size() == 2);
  CHECK_THAT(ErrorOf("FROM a\nENV =x\n"), Catch::Contains("ENV names can not be blank"));
  CHECK_THAT(ErrorOf("FROM a\nLABEL\n"), Catch::Contains("LABEL requires at least one argument"));
}

TEST_CASE("ARG: several, with and without defaults, doc comments", "[instructions]") {
  Dockerfile df = MustParse("# V the version\nARG V=1 W\nFROM a\nARG X=\"q r\" Y\n");
  REQUIRE(df.meta_args.size() == 1);
  REQUIRE(df.meta_args[0].args.size() == 2);
  CHECK(df.meta_args[0].args[0] == ArgDef{"V", "1", "the version"});
  CHECK(df.meta_args[0].args[1] == ArgDef{"W", std::nullopt, ""});
  const auto& arg = std::get<ArgCommand>(df.stages[0].commands[0]);
  CHECK(arg.args[0].value == std::optional<std::string>("\"q r\""));
  CHECK_THAT(ErrorOf("FROM a\nARG =x\n"), Catch::Contains("ARG names can not be blank"));
}

TEST_CASE("HEALTHCHECK: options, CMD forms and NONE", "[instructions]") {
  HealthcheckCommand h = One<HealthcheckCommand>(
      "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=250ms "
      "--retries=3 CMD curl -f http://localhost/");
  CHECK(h.test == std::vector<std::string>{"CMD-SHELL", "curl -f http://localhost/"});
  CHECK(h.interval_ns == 30'000'000'000);
  CHECK(h.timeout_ns == 90'000'000'000);
  CHECK(h.start_period_ns == 1'500'000'000);
  CHECK(h.start_interval_ns == 250'000'000);
  CHECK(h.retries == 3);
  CHECK(One<HealthcheckCommand>("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]").test ==
        std::vector<std::string>{"CMD", "/bin/check", "-q"});
  CHECK(One<HealthcheckCommand>("HEALTHCHECK NONE").test == std::vector<std::string>{"NONE"});
  CHECK_THAT(ErrorOf("FROM a\nHEALTHCHECK NONE x\n"),
             Catch::Contains("HEALTHCHECK NONE takes no arguments"));
  CHECK_THAT(ErrorOf("FROM a\nHEALTHCHECK CMD\n"),
             Catch::Contains("Missing command after HEALTHCHECK CMD"));
  CHECK_THAT(ErrorOf("FROM a\nHEALTHCHECK --interval=10us CMD x\n"),
             Catch::Contains("Interval \"interval\" cannot be less than 1ms"));
  CHECK_THAT(ErrorOf("FROM a\nHEALTHCHECK --retries=-1 CMD x\n"),
             Catch::Contains("--retries cannot be negative"));
  CHECK_THAT(ErrorOf("FROM a\nHEALTHCHECK --timeout=5 CMD x\n"),
             Catch::Contains("missing unit in duration"));
  CHECK_THAT(ErrorOf("FROM a\nHEALTHCHECK CONNECT x\n"),
             Catch::Contains("Unknown type \"CONNECT\""));
}

TEST_CASE("CMD, ENTRYPOINT, SHELL", "[instructions]") {
  CHECK(One<CmdCommand>("CMD echo $HOME").cmdline.args == std::vector<std::string>{"echo $HOME"});
  CHECK(One<EntrypointCommand>("ENTRYPOINT [\"/init\"]").cmdline.args ==
        std::vector<std::string>{"/init"});
  CHECK(One<ShellCommand>("SHELL [\"pwsh\", \"-c\"]").shell ==
        std::vector<std::string>{"pwsh", "-c"});
  CHECK_THAT(ErrorOf("FROM a\nSHELL bash -c\n"),
             Catch::Contains("SHELL requires the arguments to be in JSON form"));
  CHECK_THAT(ErrorOf("FROM a\nCMD --x y\n"), Catch::Contains("unknown flag: --x"));
}

TEST_CASE("EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER, ONBUILD", "[instructions]") {
  CHECK(One<ExposeCommand>("EXPOSE 8080/tcp 53/udp 80").ports ==
        std::vector<std::string>{"53/udp", "80", "8080/tcp"});
  CHECK(One<VolumeCommand>("VOLUME [\"/a\", \"/b\"]").volumes ==
        std::vector<std::string>{"/a", "/b"});
  CHECK(One<UserCommand>("USER app:app").user == "app:app");
  CHECK(One<WorkdirCommand>("WORKDIR /src/app").path == "/src/app");
  CHECK(One<StopSignalCommand>("STOPSIGNAL SIGKILL").signal == "SIGKILL");
  CHECK(One<MaintainerCommand>("MAINTAINER me <me@example.com>").maintainer ==
        "me <me@example.com>");
  CHECK(One<OnbuildCommand>("ONBUILD RUN make").expression == "RUN make");
  CHECK_THAT(ErrorOf("FROM a\nONBUILD ONBUILD RUN x\n"), Catch::Contains("Chaining ONBUILD"));
  CHECK_THAT(ErrorOf("FROM a\nONBUILD FROM x\n"),
             Catch::Contains("FROM isn't allowed as an ONBUILD trigger"));
  CHECK(One<UserCommand>("USER a b").user == "a b");  // the rest of the line is one word
  CHECK_THAT(ErrorOf("FROM a\nWORKDIR\n"),
             Catch::Contains("WORKDIR requires exactly one argument"));
  CHECK_THAT(ErrorOf("FROM a\nVOLUME [\" \"]\n"),
             Catch::Contains("VOLUME specified can not be an empty string"));
  CHECK_THAT(ErrorOf("FROM a\nEXPOSE\n"), Catch::Contains("EXPOSE requires at least one argument"));
}

TEST_CASE("stages, meta args and structural errors", "[instructions]") {
  CHECK_THAT(ErrorOf("RUN x\n"), Catch::Contains("no build stage in current context"));
  CHECK_THAT(ErrorOf("ARG A\n"), Catch::Contains("dockerfile contains no stages to build"));
  CHECK_THAT(ErrorOf("FROM a\nRUNN x\n"),
             Catch::Contains("unknown instruction: RUNN (did you mean RUN?)"));
  std::string err = ErrorOf("FROM a\nCOPY --chmod=1 --bad=1 a b\n");
  CHECK_THAT(err, Catch::StartsWith("Dockerfile:2:16: unknown flag: --bad"));
}

TEST_CASE("value parsers: durations, sizes, signals, CSV", "[instructions]") {
  CHECK(*ParseDuration("1h2m3.5s") == 3723'500'000'000);
  CHECK(*ParseDuration("-1.5ms") == -1'500'000);
  CHECK(*ParseDuration("0") == 0);
  CHECK_FALSE(ParseDuration("1x").ok());
  CHECK_FALSE(ParseDuration("").ok());
  CHECK(*ParseRamBytes("1.5k") == 1536);
  CHECK(*ParseRamBytes("2 GiB") == 2LL * 1024 * 1024 * 1024);
  CHECK_FALSE(ParseRamBytes("1.2.3m").ok());
  CHECK(*ParseSignal("SIGTERM") == 15);
  CHECK(*ParseSignal("kill") == 9);
  CHECK(*ParseSignal("RTMIN+3") == 37);
  CHECK(*ParseSignal("9") == 9);
  CHECK_FALSE(ParseSignal("0").ok());
  CHECK_FALSE(ParseSignal("SIGNOPE").ok());
  CHECK(*SplitCsv("a,\"b,c\",\"d\"\"e\",") == std::vector<std::string>{"a", "b,c", "d\"e", ""});
  CHECK_FALSE(SplitCsv("a\"b").ok());
  CHECK_FALSE(SplitCsv("\"a\"b").ok());
  CHECK(ParseBool("T") == std::optional<bool>(true));
  CHECK_FALSE(ParseBool("yes").has_value());
}

}  // namespace
}  // namespace hoist::dockerfile
