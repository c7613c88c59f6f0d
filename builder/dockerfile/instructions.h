// Typed instructions: the AST checked and read the way BuildKit's
// frontend/dockerfile/instructions does — argument counts, each
// instruction's flags (unknown, duplicate and malformed flags rejected),
// exec vs shell form, heredoc sources, FROM ... AS name — and grouped into
// stages. Nothing is expanded here: words keep their $VARIABLES; expansion
// happens per stage when a build is planned (plan.h), because it depends on
// ARG/ENV values and --build-arg.
//
// Safe for concurrent use (pure functions over immutable inputs).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "builder/dockerfile/ast.h"
#include "common/status.h"

namespace hoist::dockerfile {

// What every instruction carries: its keyword as written, its source text
// (continuations joined, trimmed) and the node it came from (for errors).
struct CommandBase {
  std::string name;                  // keyword as written, e.g. "RUN"
  std::string code;                  // the logical line, trimmed
  std::shared_ptr<const Node> node;  // never null for parsed commands
  int line() const { return node ? node->start_line : 0; }
};

struct KeyValue {
  std::string key;
  std::string value;
  bool legacy = false;  // "KEY value" form (no '='), which BuildKit lints

  bool operator==(const KeyValue&) const = default;
};

// ARG name[=default]
struct ArgDef {
  std::string key;
  std::optional<std::string> value;
  std::string doc;  // from a "# key description" comment above

  bool operator==(const ArgDef&) const = default;
};

// A RUN --mount, as written (fields are expanded per stage before use).
struct Mount {
  std::string type = "bind";  // bind|cache|tmpfs|secret|ssh
  std::string from;
  std::string source;
  std::string target;
  bool read_only = true;
  int64_t size_limit = 0;          // tmpfs size=, bytes
  std::string cache_id;            // id=
  std::string sharing;             // cache: shared|private|locked
  bool required = false;           // secret/ssh
  std::optional<std::string> env;  // secret env=
  std::optional<uint64_t> mode, uid, gid;
  // buildah's `tmpcopyup` (tmpfs): the target's existing contents are
  // copied into the mount.
  bool tmpcopyup = false;
  // The buildah/podman options of a Dialect::kBuildah parse, as written
  // ("z", "Z", "U", "relabel=shared", "tmpcopyup"): the plan reports each.
  std::vector<std::string> extensions;

  bool operator==(const Mount&) const = default;
};

struct Device {
  std::string name;
  bool required = false;
  bool operator==(const Device&) const = default;
};

// A heredoc used as a COPY/ADD source.
struct SourceContent {
  std::string path;  // the heredoc name: the file name in the destination
  std::string data;
  bool expand = true;
  bool operator==(const SourceContent&) const = default;
};

struct SourcesAndDest {
  std::vector<std::string> source_paths;
  std::vector<SourceContent> source_contents;
  std::string dest;
};

// A heredoc attached to a RUN (its file name and body).
struct InlineFile {
  std::string name;
  std::string data;
  bool chomp = false;
  bool operator==(const InlineFile&) const = default;
};

// RUN/CMD/ENTRYPOINT: the command line in exec or shell form.
struct CommandLine {
  std::vector<std::string> args;  // exec form: argv; shell form: one string
  bool prepend_shell = false;     // shell form
  std::vector<InlineFile> files;  // heredocs (RUN)
};

struct RunCommand : CommandBase {
  CommandLine cmdline;
  std::vector<std::string> mount_specs;  // --mount values as written
  std::vector<Mount> mounts;             // parsed (only `from` is known before expansion)
  std::string network = "default";       // default|none|host
  std::string security = "sandbox";      // sandbox|insecure
  std::vector<std::string> device_specs;
  std::vector<Device> devices;
  std::vector<std::string> flags_used;
};
struct CmdCommand : CommandBase {
  CommandLine cmdline;
};
struct EntrypointCommand : CommandBase {
  CommandLine cmdline;
};
struct ShellCommand : CommandBase {
  std::vector<std::string> shell;
};
struct EnvCommand : CommandBase {
  std::vector<KeyValue> env;
};
struct LabelCommand : CommandBase {
  std::vector<KeyValue> labels;
};
struct MaintainerCommand : CommandBase {
  std::string maintainer;
};
struct AddCommand : CommandBase {
  SourcesAndDest files;
  std::string chown, chmod, checksum;
  bool link = false;
  std::optional<bool> keep_git_dir;
  std::optional<bool> unpack;
  std::vector<std::string> excludes;
};
struct CopyCommand : CommandBase {
  SourcesAndDest files;
  std::string from;  // stage name, stage index or image reference ("" = context)
  std::string chown, chmod;
  bool link = false;
  bool parents = false;
  std::vector<std::string> excludes;
};
struct ExposeCommand : CommandBase {
  std::vector<std::string> ports;  // as written, sorted (BuildKit sorts them)
};
struct VolumeCommand : CommandBase {
  std::vector<std::string> volumes;
};
struct UserCommand : CommandBase {
  std::string user;
};
struct WorkdirCommand : CommandBase {
  std::string path;
};
struct StopSignalCommand : CommandBase {
  std::string signal;
};
struct ArgCommand : CommandBase {
  std::vector<ArgDef> args;
};
struct OnbuildCommand : CommandBase {
  std::string expression;  // the trigger instruction's text (with heredoc bodies)
};
struct HealthcheckCommand : CommandBase {
  std::vector<std::string> test;  // {"NONE"}, {"CMD", argv...} or {"CMD-SHELL", cmd}
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
  int retries = 0;
};

using Command = std::variant<RunCommand, CmdCommand, EntrypointCommand, ShellCommand, EnvCommand,
                             LabelCommand, MaintainerCommand, AddCommand, CopyCommand,
                             ExposeCommand, VolumeCommand, UserCommand, WorkdirCommand,
                             StopSignalCommand, ArgCommand, OnbuildCommand, HealthcheckCommand>;

// The common part of any command.
const CommandBase& Base(const Command& c);

// A FROM line and the instructions up to the next one.
struct Stage {
  std::string base_name;  // as written (expanded when planned)
  std::string name;       // lower-cased `AS` name, "" when unnamed
  std::string platform;   // --platform as written
  std::string orig_cmd;   // the keyword as written
  std::string code;       // the FROM line, trimmed
  std::string doc;        // from a "# name description" comment above
  std::shared_ptr<const Node> node;
  std::vector<Command> commands;
};

struct Dockerfile {
  SourcePtr source;
  char escape = '\\';
  std::vector<Directive> directives;  // the parser directives (`# check=` is applied when planned)
  std::vector<ArgCommand> meta_args;  // ARGs before the first FROM
  std::vector<Stage> stages;
  // Parser and instruction warnings: the build checks of the file's text
  // (checks.h), all reported, whatever `# check=` says (PlanBuild applies it).
  std::vector<Warning> warnings;
};

// Checks every instruction of `ast` and groups them into stages.
// Errors: unknown instructions, bad argument counts and flags, a command
// before the first FROM, ... — formatted as in source.h.
Result<Dockerfile> ParseInstructions(const Ast& ast);
// Parse + ParseInstructions.
Result<Dockerfile> ParseDockerfile(SourcePtr source);

// One instruction from its node (used for ONBUILD triggers too). `stage`
// receives a FROM; otherwise `command` is set.
Status ParseInstruction(const Ast& ast, const Node& node, std::optional<Stage>* stage,
                        std::optional<Command>* command);

// An ONBUILD trigger's text as one instruction of `df` (its escape
// character), positioned at `line`:`column` (where the trigger runs).
// Errors: the parser's, and "onbuild trigger should be a single expression"
// for more than one. nullopt for a FROM (which callers refuse).
Result<std::optional<Command>> ParseTrigger(const Dockerfile& df, std::string_view expression,
                                            int line, int column);

// The Dockerfile dialect a build accepts: BuildKit's exactly (`--strict`),
// or BuildKit's plus what buildah and podman build and BuildKit refuses —
// RUN --mount options z, Z, U and relabel= (SELinux and ownership options;
// accepted and ignored) and tmpcopyup, COPY --from=$ARG, and FROM naming a
// stage in other letter case (BuildKit's issue #2003). The plan reports
// each use as a BuildahExtension check.
enum class Dialect { kBuildKit, kBuildah };

// Parses a --mount value. With `expand` null only `from` is read (as
// BuildKit does before expansion: a variable in `from` is an error);
// otherwise every field is expanded by `expand` and checked, and under
// Dialect::kBuildah buildah's options are accepted (Mount::extensions).
class WordExpander {
 public:
  virtual ~WordExpander() = default;
  virtual Result<std::string> Expand(std::string_view word) = 0;
};
Result<Mount> ParseMount(std::string_view spec, WordExpander* expand,
                         Dialect dialect = Dialect::kBuildKit);
// Parses a --device value ("name[,required]").
Result<Device> ParseDevice(std::string_view spec);

// Go's time.ParseDuration, in nanoseconds.
Result<int64_t> ParseDuration(std::string_view s);
// Go's strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view s);
// docker/go-units RAMInBytes ("64m", "1.5g", "512").
Result<int64_t> ParseRamBytes(std::string_view s);
// moby's signal.ParseSignal for Linux: a non-zero number or a name with
// or without "SIG" ("TERM", "SIGKILL", "RTMIN+3"); returns the number.
Result<int> ParseSignal(std::string_view s);
// Splits a CSV record (encoding/csv rules, as go-csvvalue).
Result<std::vector<std::string>> SplitCsv(std::string_view line);

}  // namespace hoist::dockerfile
