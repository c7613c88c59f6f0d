#include "builder/dockerfile/instructions.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include "builder/dockerfile/checks.h"
#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {

const CommandBase& Base(const Command& c) {
  return std::visit([](const auto& v) -> const CommandBase& { return v; }, c);
}

namespace {

// BuildKit's BFlags: the "--name[=value]" words of one instruction, checked
// against the flags that instruction declares.
class Flags {
 public:
  enum class Type { kBool, kString, kStrings };
  struct Flag {
    Type type;
    std::string value;
    std::vector<std::string> values;
  };

  explicit Flags(const std::vector<std::string>& args) : args_(args) {}

  Flag* AddBool(const std::string& name, bool def) {
    return Add(name, Type::kBool, def ? "true" : "false");
  }
  Flag* AddString(const std::string& name, std::string def = "") {
    return Add(name, Type::kString, std::move(def));
  }
  Flag* AddStrings(const std::string& name) { return Add(name, Type::kStrings, ""); }

  bool Used(const std::string& name) const { return used_.count(name) != 0; }
  std::vector<std::string> UsedNames() const { return {used_.begin(), used_.end()}; }

  // The error message and the offending word, or nullopt.
  std::optional<std::pair<std::string, std::string>> Parse() {
    for (const std::string& a : args_) {
      if (a == "--") return std::nullopt;  // end of options (POSIX guideline 10)
      if (a.rfind("--", 0) != 0) return Err("arg should start with -- : " + a, a);
      size_t eq = a.find('=');
      bool has_value = eq != std::string::npos;
      std::string flag_name = a.substr(0, eq);
      std::string value = has_value ? a.substr(eq + 1) : "";
      std::string name = flag_name.substr(2);
      auto it = flags_.find(name);
      if (it == flags_.end()) {
        std::vector<std::string> names;
        for (const auto& [n, f] : flags_) names.push_back(n);
        std::string msg = "unknown flag: " + flag_name;
        std::string s = text::Suggest(name, names, true);
        if (!s.empty()) msg += " (did you mean " + s + "?)";
        return Err(msg, flag_name);
      }
      Flag& f = it->second;
      if (used_.count(name) && f.type != Type::kStrings) {
        return Err("duplicate flag specified: " + flag_name, flag_name);
      }
      used_.insert(name);
      switch (f.type) {
        case Type::kBool: {
          if (has_value && value.empty())
            return Err("missing a value on flag: " + flag_name, flag_name);
          std::string v = text::ToLower(value);
          if (v == "true" || v.empty()) {
            f.value = "true";
          } else if (v == "false") {
            f.value = "false";
          } else {
            return Err("expecting boolean value for flag " + flag_name + ", not: " + value,
                       flag_name);
          }
          break;
        }
        case Type::kString:
          if (!has_value) return Err("missing a value on flag: " + flag_name, flag_name);
          f.value = value;
          break;
        case Type::kStrings:
          if (!has_value) return Err("missing a value on flag: " + flag_name, flag_name);
          f.values.push_back(value);
          break;
      }
    }
    return std::nullopt;
  }

 private:
  Flag* Add(const std::string& name, Type type, std::string def) {
    Flag& f = flags_[name];
    f.type = type;
    f.value = std::move(def);
    return &f;
  }
  static std::optional<std::pair<std::string, std::string>> Err(std::string msg, std::string at) {
    return std::make_pair(std::move(msg), std::move(at));
  }

  const std::vector<std::string>& args_;
  std::map<std::string, Flag> flags_;
  std::set<std::string> used_;
};

const std::vector<std::string>& InstructionNames() {
  static const std::vector<std::string> names = {
      "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
      "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
      "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};
  return names;
}

// The parse of one node, with its source for error positions.
class InstructionParser {
 public:
  InstructionParser(const Ast& ast, const Node& node)
      : ast_(ast), node_(node), shared_(std::make_shared<const Node>(node)), flags_(node.flags) {
    // nodeArgs: ONBUILD's arguments are the trigger keyword and its arguments.
    if (!node.trigger.empty()) {
      args_.push_back(node.trigger[0].value);
      args_.insert(args_.end(), node.trigger[0].args.begin(), node.trigger[0].args.end());
    } else {
      args_ = node.args;
    }
  }

  Status Run(std::optional<Stage>* stage, std::optional<Command>* command) {
    std::string kw = node_.Keyword();
    if (kw == "from") return From(stage);
    Result<Command> c = ParseCommand(kw);
    if (!c.ok()) return c.status();
    *command = std::move(c).value();
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& message, std::string_view at = {}) const {
    return ErrorAt(ast_.source.get(), node_.PositionOfText(at), message);
  }
  Status ParseFlags() {
    auto err = flags_.Parse();
    if (err) return Fail(err->first, err->second);
    return Status::Ok();
  }
  template <class T>
  T Make() const {
    T c;
    c.name = node_.value;
    c.code = std::string(text::TrimSpace(node_.original));
    c.node = shared_;
    return c;
  }

  Result<Command> ParseCommand(const std::string& kw) {
    if (kw == "env") return Env();
    if (kw == "maintainer") return Maintainer();
    if (kw == "label") return Label();
    if (kw == "add") return Add();
    if (kw == "copy") return Copy();
    if (kw == "onbuild") return Onbuild();
    if (kw == "workdir") return Workdir();
    if (kw == "run") return Run();
    if (kw == "cmd") return Cmd();
    if (kw == "healthcheck") return Healthcheck();
    if (kw == "entrypoint") return Entrypoint();
    if (kw == "expose") return Expose();
    if (kw == "user") return User();
    if (kw == "volume") return Volume();
    if (kw == "stopsignal") return StopSignal();
    if (kw == "arg") return Arg();
    if (kw == "shell") return Shell();
    std::string msg = "unknown instruction: " + node_.value;
    std::string s = text::Suggest(node_.value, InstructionNames(), false);
    if (!s.empty()) msg += " (did you mean " + s + "?)";
    return Fail(msg);
  }

  Result<std::vector<KeyValue>> Kvps(const char* cmd) {
    if (args_.empty()) return Fail(std::string(cmd) + " requires at least one argument");
    if (args_.size() % 3 != 0)
      return Fail(std::string("Bad input to ") + cmd + ", too many arguments");
    std::vector<KeyValue> out;
    for (size_t j = 0; j < args_.size(); j += 3) {
      if (args_[j].empty()) return Fail(std::string(cmd) + " names can not be blank");
      out.push_back({args_[j], args_[j + 1], args_[j + 2].empty()});
    }
    return out;
  }

  // ENV and LABEL: key/value pairs into `field` of a T.
  template <class T>
  Result<Command> KeyValues(const char* cmd, std::vector<KeyValue> T::*field) {
    HOIST_RETURN_IF_ERROR(ParseFlags());
    Result<std::vector<KeyValue>> kv = Kvps(cmd);
    if (!kv.ok()) return kv.status();
    T c = Make<T>();
    c.*field = std::move(kv).value();
    return Command(std::move(c));
  }
  Result<Command> Env() { return KeyValues("ENV", &EnvCommand::env); }
  Result<Command> Label() { return KeyValues("LABEL", &LabelCommand::labels); }

  Result<Command> Maintainer() {
    if (args_.size() != 1) return Fail("MAINTAINER requires exactly one argument");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    MaintainerCommand c = Make<MaintainerCommand>();
    c.maintainer = args_[0];
    return Command(std::move(c));
  }

  // Sources (paths, or heredocs named by a "<<EOF" word) and a destination.
  Result<SourcesAndDest> Files(const char* cmd) {
    SourcesAndDest out;
    out.dest = args_.back();
    if (IsHeredocWord(out.dest))
      return Fail(std::string(cmd) + " cannot accept a heredoc as a destination", out.dest);
    std::map<std::string, const Heredoc*> by_name;
    for (const Heredoc& h : node_.heredocs) by_name[h.name] = &h;
    for (size_t i = 0; i + 1 < args_.size(); ++i) {
      const std::string& src = args_[i];
      Result<std::optional<Heredoc>> h = ParseHeredocWord(src);
      if (h.ok() && h->has_value()) {
        const Heredoc& word = **h;
        auto it = by_name.find(word.name);
        std::string content = it == by_name.end() ? "" : it->second->content;
        if (word.chomp) content = ChompHeredocContent(content);
        out.source_contents.push_back({word.name, std::move(content), word.expand});
      } else {
        out.source_paths.push_back(src);
      }
    }
    return out;
  }
  static bool IsHeredocWord(const std::string& w) {
    Result<std::optional<Heredoc>> h = ParseHeredocWord(w);
    return h.ok() && h->has_value();
  }
  std::string NoDest(const char* cmd) const {
    return std::string(cmd) +
           " requires at least two arguments, but only one was provided. Destination could not be "
           "determined";
  }

  Result<Command> Add() {
    if (args_.size() < 2) return Fail(NoDest("ADD"));
    Flags::Flag* chown = flags_.AddString("chown");
    Flags::Flag* chmod = flags_.AddString("chmod");
    Flags::Flag* link = flags_.AddBool("link", false);
    Flags::Flag* keep_git = flags_.AddBool("keep-git-dir", false);
    Flags::Flag* checksum = flags_.AddString("checksum");
    Flags::Flag* unpack = flags_.AddBool("unpack", false);
    Flags::Flag* exclude = flags_.AddStrings("exclude");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    Result<SourcesAndDest> files = Files("ADD");
    if (!files.ok()) return files.status();
    AddCommand c = Make<AddCommand>();
    c.files = std::move(files).value();
    c.chown = chown->value;
    c.chmod = chmod->value;
    c.link = link->value == "true";
    if (flags_.Used("keep-git-dir")) c.keep_git_dir = keep_git->value == "true";
    c.checksum = checksum->value;
    if (flags_.Used("unpack")) c.unpack = unpack->value == "true";
    c.excludes = exclude->values;
    return Command(std::move(c));
  }

  Result<Command> Copy() {
    if (args_.size() < 2) return Fail(NoDest("COPY"));
    Flags::Flag* chown = flags_.AddString("chown");
    Flags::Flag* from = flags_.AddString("from");
    Flags::Flag* chmod = flags_.AddString("chmod");
    Flags::Flag* link = flags_.AddBool("link", false);
    Flags::Flag* exclude = flags_.AddStrings("exclude");
    Flags::Flag* parents = flags_.AddBool("parents", false);
    HOIST_RETURN_IF_ERROR(ParseFlags());
    Result<SourcesAndDest> files = Files("COPY");
    if (!files.ok()) return files.status();
    CopyCommand c = Make<CopyCommand>();
    c.files = std::move(files).value();
    c.from = from->value;
    c.chown = chown->value;
    c.chmod = chmod->value;
    c.link = link->value == "true";
    c.parents = parents->value == "true";
    c.excludes = exclude->values;
    return Command(std::move(c));
  }

  Status From(std::optional<Stage>* out) {
    std::string name;
    if (args_.size() == 3 && text::AsciiEqualFold(args_[1], "as")) {
      name = text::ToLower(args_[2]);
      bool valid = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
      for (char ch : name) {
        valid = valid && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                          ch == '_' || ch == '.');
      }
      if (!valid) {
        return Fail("invalid name for build stage: " + text::Quote(args_[2]) +
                        ", name can't start with a number or contain symbols",
                    args_[2]);
      }
    } else if (args_.size() != 1) {
      return Fail("FROM requires either one or three arguments");
    }
    Flags::Flag* platform = flags_.AddString("platform");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    Stage s;
    s.base_name = args_[0];
    s.name = name;
    s.platform = platform->value;
    s.orig_cmd = node_.value;
    s.code = std::string(text::TrimSpace(node_.original));
    s.doc = DocComment(name);
    s.node = shared_;
    *out = std::move(s);
    return Status::Ok();
  }

  std::string DocComment(const std::string& name) const {
    if (name.empty()) return "";
    for (const std::string& line : node_.comments) {
      if (line.rfind(name + " ", 0) == 0) return line.substr(name.size() + 1);
    }
    return "";
  }

  Result<Command> Onbuild() {
    if (args_.empty()) return Fail("ONBUILD requires at least one argument");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    std::string trigger = text::AsciiToUpper(text::TrimSpace(args_[0]));
    if (trigger == "ONBUILD") return Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (trigger == "MAINTAINER" || trigger == "FROM") {
      return Fail(trigger + " isn't allowed as an ONBUILD trigger");
    }
    // (?i)^\s*ONBUILD\s* removed from the original line.
    std::string_view expr = node_.original;
    size_t i = 0;
    auto is_space = [](char ch) {
      return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\f' || ch == '\r';
    };
    while (i < expr.size() && is_space(expr[i])) ++i;
    if (text::AsciiEqualFold(expr.substr(i, 7), "onbuild")) {
      i += 7;
      while (i < expr.size() && is_space(expr[i])) ++i;
      expr.remove_prefix(i);
    }
    std::string expression(expr);
    for (const Heredoc& h : node_.heredocs) expression += "\n" + h.content + h.name;
    OnbuildCommand c = Make<OnbuildCommand>();
    c.expression = std::move(expression);
    return Command(std::move(c));
  }

  Result<Command> Workdir() {
    if (args_.size() != 1) return Fail("WORKDIR requires exactly one argument");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    WorkdirCommand c = Make<WorkdirCommand>();
    c.path = args_[0];
    return Command(std::move(c));
  }

  // handleJSONArgs: exec form keeps the words; shell form is one string.
  std::vector<std::string> JsonArgs(std::vector<std::string> args) const {
    if (args.empty() || node_.json) return args;
    std::string joined;
    for (size_t i = 0; i < args.size(); ++i) {
      if (i > 0) joined += ' ';
      joined += args[i];
    }
    return {joined};
  }

  CommandLine ShellDependent() const {
    CommandLine cl;
    for (const Heredoc& h : node_.heredocs) cl.files.push_back({h.name, h.content, h.chomp});
    cl.args = JsonArgs(args_);
    cl.prepend_shell = !node_.json;
    return cl;
  }

  Result<Command> Run() {
    Flags::Flag* device = flags_.AddStrings("device");
    Flags::Flag* mount = flags_.AddStrings("mount");
    Flags::Flag* network = flags_.AddString("network", "default");
    Flags::Flag* security = flags_.AddString("security", "sandbox");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    RunCommand c = Make<RunCommand>();
    c.flags_used = flags_.UsedNames();
    c.cmdline = ShellDependent();
    c.device_specs = device->values;
    for (const std::string& d : device->values) {
      Result<Device> dev = ParseDevice(d);
      if (!dev.ok()) return Fail(dev.status().message(), d);
      c.devices.push_back(std::move(dev).value());
    }
    c.mount_specs = mount->values;
    for (const std::string& m : mount->values) {
      Result<Mount> parsed = ParseMount(m, nullptr);
      if (!parsed.ok()) return Fail(parsed.status().message(), m);
      c.mounts.push_back(std::move(parsed).value());
    }
    if (network->value != "default" && network->value != "none" && network->value != "host") {
      return Fail("invalid network mode " + text::Quote(network->value), "--network");
    }
    c.network = network->value;
    if (security->value != "sandbox" && security->value != "insecure") {
      return Fail("security " + text::Quote(security->value) + " is not valid", "--security");
    }
    c.security = security->value;
    return Command(std::move(c));
  }

  Result<Command> Cmd() {
    HOIST_RETURN_IF_ERROR(ParseFlags());
    CmdCommand c = Make<CmdCommand>();
    c.cmdline = ShellDependent();
    return Command(std::move(c));
  }

  Result<Command> Entrypoint() {
    HOIST_RETURN_IF_ERROR(ParseFlags());
    EntrypointCommand c = Make<EntrypointCommand>();
    c.cmdline = ShellDependent();
    return Command(std::move(c));
  }

  Result<int64_t> Interval(const std::string& flag, const std::string& value) {
    if (value.empty()) return int64_t{0};
    Result<int64_t> d = ParseDuration(value);
    if (!d.ok()) return Fail(d.status().message(), "--" + flag);
    if (*d == 0) return int64_t{0};
    if (*d < 1000000) {
      return Fail("Interval " + text::Quote(flag) + " cannot be less than 1ms", "--" + flag);
    }
    return d;
  }

  Result<Command> Healthcheck() {
    if (args_.empty()) return Fail("HEALTHCHECK requires at least one argument");
    HealthcheckCommand c = Make<HealthcheckCommand>();
    std::string type = text::AsciiToUpper(args_[0]);
    std::vector<std::string> rest(args_.begin() + 1, args_.end());
    if (type == "NONE") {
      if (!rest.empty()) return Fail("HEALTHCHECK NONE takes no arguments");
      c.test = {type};
      return Command(std::move(c));
    }
    Flags::Flag* interval = flags_.AddString("interval");
    Flags::Flag* timeout = flags_.AddString("timeout");
    Flags::Flag* start_period = flags_.AddString("start-period");
    Flags::Flag* start_interval = flags_.AddString("start-interval");
    Flags::Flag* retries = flags_.AddString("retries");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    if (type != "CMD")
      return Fail("Unknown type " + text::Quote(type) + " in HEALTHCHECK (try CMD)");
    std::vector<std::string> cmd = JsonArgs(rest);
    if (cmd.empty()) return Fail("Missing command after HEALTHCHECK CMD");
    c.test.push_back(node_.json ? "CMD" : "CMD-SHELL");
    c.test.insert(c.test.end(), cmd.begin(), cmd.end());
    struct {
      const char* name;
      Flags::Flag* flag;
      int64_t* out;
    } durations[] = {{"interval", interval, &c.interval_ns},
                     {"timeout", timeout, &c.timeout_ns},
                     {"start-period", start_period, &c.start_period_ns},
                     {"start-interval", start_interval, &c.start_interval_ns}};
    for (auto& d : durations) {
      Result<int64_t> v = Interval(d.name, d.flag->value);
      if (!v.ok()) return v.status();
      *d.out = *v;
    }
    if (!retries->value.empty()) {
      const std::string& r = retries->value;
      size_t i = (r[0] == '+' || r[0] == '-') ? 1 : 0;
      bool digits = i < r.size() && std::all_of(r.begin() + static_cast<std::ptrdiff_t>(i), r.end(),
                                                [](char ch) { return ch >= '0' && ch <= '9'; });
      long long v = 0;
      bool range = true;
      if (digits) {
        errno = 0;
        v = std::strtoll(r.c_str(), nullptr, 10);
        range = errno == 0 && v >= std::numeric_limits<int32_t>::min() &&
                v <= std::numeric_limits<int32_t>::max();
      }
      if (!digits || !range) {
        return Fail("strconv.ParseInt: parsing " + text::Quote(r) + ": " +
                        (digits ? "value out of range" : "invalid syntax"),
                    "--retries");
      }
      if (v < 0)
        return Fail("--retries cannot be negative (" + std::to_string(v) + ")", "--retries");
      c.retries = static_cast<int>(v);
    }
    return Command(std::move(c));
  }

  Result<Command> Expose() {
    if (args_.empty()) return Fail("EXPOSE requires at least one argument");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    ExposeCommand c = Make<ExposeCommand>();
    c.ports = args_;
    std::sort(c.ports.begin(), c.ports.end());
    return Command(std::move(c));
  }

  Result<Command> User() {
    if (args_.size() != 1) return Fail("USER requires exactly one argument");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    UserCommand c = Make<UserCommand>();
    c.user = args_[0];
    return Command(std::move(c));
  }

  Result<Command> Volume() {
    if (args_.empty()) return Fail("VOLUME requires at least one argument");
    HOIST_RETURN_IF_ERROR(ParseFlags());
    VolumeCommand c = Make<VolumeCommand>();
    for (const std::string& v : args_) {
      std::string_view t = text::TrimSpace(v);
      if (t.empty()) return Fail("VOLUME specified can not be an empty string");
      c.volumes.emplace_back(t);
    }
    return Command(std::move(c));
  }

  // BuildKit checks neither flags nor the signal here (the signal is
  // checked after expansion).
  Result<Command> StopSignal() {
    if (args_.size() != 1) return Fail("STOPSIGNAL requires exactly one argument");
    StopSignalCommand c = Make<StopSignalCommand>();
    c.signal = args_[0];
    return Command(std::move(c));
  }

  Result<Command> Arg() {
    if (args_.empty()) return Fail("ARG requires at least one argument");
    ArgCommand c = Make<ArgCommand>();
    for (const std::string& a : args_) {
      ArgDef d;
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        if (eq == 0) return Fail("ARG names can not be blank", a);
        d.key = a.substr(0, eq);
        d.value = a.substr(eq + 1);
      } else {
        d.key = a;
      }
      d.doc = DocComment(d.key);
      c.args.push_back(std::move(d));
    }
    return Command(std::move(c));
  }

  Result<Command> Shell() {
    HOIST_RETURN_IF_ERROR(ParseFlags());
    std::vector<std::string> shell = JsonArgs(args_);
    if (shell.empty()) return Fail("SHELL requires at least one argument");
    if (!node_.json) return Fail("SHELL requires the arguments to be in JSON form");
    ShellCommand c = Make<ShellCommand>();
    c.shell = std::move(shell);
    return Command(std::move(c));
  }

  const Ast& ast_;
  const Node& node_;
  std::shared_ptr<const Node> shared_;
  Flags flags_;
  std::vector<std::string> args_;
};

// ---- Build checks of single instructions and of their casing --------------
// (BuildKit's instructions.Parse with a linter, and validateCommandCasing.)

bool IsLower(std::string_view s) {
  return s == text::ToLower(s);
}
bool IsUpper(std::string_view s) {
  return s == text::AsciiToUpper(s);
}

// MaintainerDeprecated, StageNameCasing, FromAsCasing.
void CheckNode(const Node& n, std::vector<Warning>* out) {
  std::string kw = n.Keyword();
  Position at = n.PositionOf(0);
  if (kw == "maintainer") {
    out->push_back(CheckWarning(
        kMaintainerDeprecated, "Maintainer instruction is deprecated in favor of using label", at));
  }
  if (kw != "from" || n.args.size() < 3) return;
  if (n.args.size() == 3 && !IsLower(n.args[2])) {
    out->push_back(
        CheckWarning(kStageNameCasing, "Stage name '" + n.args[2] + "' should be lowercase", at));
  }
  // A FROM of mixed case is ConsistentInstructionCasing's to report.
  const std::string& as = n.args[1];
  bool from_lower = IsLower(n.value), from_upper = IsUpper(n.value);
  if ((from_lower && !IsLower(as)) || (!from_lower && from_upper && !IsUpper(as))) {
    out->push_back(CheckWarning(
        kFromAsCasing, "'" + as + "' and '" + n.value + "' keywords' casing do not match", at));
  }
}

// InvalidDefinitionDescription (experimental): a comment directly above a
// named stage or an ARG should start with the name it documents.
void CheckDescription(const Node& n, const char* instruction, const std::vector<std::string>& keys,
                      std::vector<Warning>* out) {
  if (n.comments.empty() || keys.empty()) return;
  std::string first = text::Split(n.comments.back(), ' ')[0];
  if (std::find(keys.begin(), keys.end(), first) != keys.end()) return;
  std::string example = keys.size() > 1 ? "<arg_key>" : keys[0];
  out->push_back(CheckWarning(kInvalidDefinitionDescription,
                              std::string("Comment for ") + instruction +
                                  " should follow the format: `# " + example + " <description>`",
                              n.PositionOf(0)));
}

// ConsistentInstructionCasing: keywords (of the stages, not of the ARGs
// before them) should all be lower or all upper case, as most of them are.
void CheckCasing(const std::vector<Stage>& stages, std::vector<Warning>* out) {
  std::vector<std::pair<const std::string*, const Node*>> keywords;
  for (const Stage& st : stages) {
    keywords.emplace_back(&st.orig_cmd, st.node.get());
    for (const Command& c : st.commands) keywords.emplace_back(&Base(c).name, Base(c).node.get());
  }
  int lower = 0, upper = 0;
  for (const auto& [kw, node] : keywords) {
    if (IsLower(*kw)) {
      ++lower;
    } else if (IsUpper(*kw)) {
      ++upper;
    }
  }
  bool majority_lower = lower > upper;
  for (const auto& [kw, node] : keywords) {
    if (majority_lower ? IsLower(*kw) : IsUpper(*kw)) continue;
    out->push_back(CheckWarning(kConsistentInstructionCasing,
                                "Command '" + *kw +
                                    "' should match the case of the command majority (" +
                                    (majority_lower ? "lowercase" : "uppercase") + ")",
                                node->PositionOf(0)));
  }
}

}  // namespace

Result<std::optional<Command>> ParseTrigger(const Dockerfile& df, std::string_view expression,
                                            int line, int column) {
  Result<Ast> ast = ParseText(expression, df.source ? df.source->name() : "Dockerfile");
  if (!ast.ok()) return ast.status();
  if (ast->children.size() != 1) {
    return Status(Code::kInvalidArgument, "onbuild trigger should be a single expression");
  }
  Node node = ast->children[0];
  node.start_line = node.end_line = line;
  node.segments = {{0, line, column}};
  Ast holder;
  holder.source = df.source;
  holder.escape = df.escape;
  std::optional<Stage> from;
  std::optional<Command> cmd;
  HOIST_RETURN_IF_ERROR(ParseInstruction(holder, node, &from, &cmd));
  return cmd;
}

Status ParseInstruction(const Ast& ast, const Node& node, std::optional<Stage>* stage,
                        std::optional<Command>* command) {
  InstructionParser p(ast, node);
  return p.Run(stage, command);
}

Result<Dockerfile> ParseInstructions(const Ast& ast) {
  Dockerfile df;
  df.source = ast.source;
  df.escape = ast.escape;
  df.directives = ast.directives;
  df.warnings = ast.warnings;
  for (const Node& n : ast.children) {
    std::optional<Stage> stage;
    std::optional<Command> cmd;
    CheckNode(n, &df.warnings);
    HOIST_RETURN_IF_ERROR(ParseInstruction(ast, n, &stage, &cmd));
    if (stage) {
      if (!stage->name.empty()) CheckDescription(n, "FROM", {stage->name}, &df.warnings);
      df.stages.push_back(std::move(*stage));
      continue;
    }
    auto* arg = std::get_if<ArgCommand>(&*cmd);
    if (arg != nullptr) {
      std::vector<std::string> keys;
      for (const ArgDef& d : arg->args) keys.push_back(d.key);
      CheckDescription(n, "ARG", keys, &df.warnings);
    }
    if (df.stages.empty()) {
      if (arg != nullptr) {
        df.meta_args.push_back(std::move(*arg));
        continue;
      }
      return ErrorAt(ast.source.get(), n.PositionOfText(""), "no build stage in current context");
    }
    df.stages.back().commands.push_back(std::move(*cmd));
  }
  CheckCasing(df.stages, &df.warnings);
  return df;
}

Result<Dockerfile> ParseDockerfile(SourcePtr source) {
  Result<Ast> ast = Parse(source);
  if (!ast.ok()) return ast.status();
  Result<Dockerfile> df = ParseInstructions(*ast);
  if (!df.ok()) return df.status();
  if (df->stages.empty()) {
    return ErrorAt(source.get(), source->LineStart(1), "dockerfile contains no stages to build");
  }
  return df;
}

// ---- Value parsers ---------------------------------------------------------

Result<std::vector<std::string>> SplitCsv(std::string_view line) {
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  if (line.empty()) return Status(Code::kInvalidArgument, "EOF");
  auto parse_error = [](size_t pos, const char* what) {
    return Status(Code::kInvalidArgument,
                  "parse error on line 1, column " + std::to_string(pos + 1) + ": " + what);
  };
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    if (pos >= line.size() || line[pos] != '"') {
      size_t comma = line.find(',', pos);
      std::string_view field =
          line.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
      size_t q = field.find('"');
      if (q != std::string_view::npos) return parse_error(pos + q, "bare \" in non-quoted-field");
      out.emplace_back(field);
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
      continue;
    }
    ++pos;  // opening quote
    std::string field;
    for (;;) {
      size_t q = line.find('"', pos);
      if (q == std::string_view::npos)
        return parse_error(pos, "extraneous or missing \" in quoted-field");
      field.append(line.substr(pos, q - pos));
      pos = q + 1;
      if (pos < line.size() && line[pos] == '"') {
        field.push_back('"');
        ++pos;
        continue;
      }
      if (pos < line.size() && line[pos] == ',') {
        ++pos;
        out.push_back(std::move(field));
        field.clear();
        goto next_field;
      }
      if (pos >= line.size()) {
        out.push_back(std::move(field));
        return out;
      }
      return parse_error(pos - 1, "extraneous or missing \" in quoted-field");
    }
  next_field:;
  }
  return out;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
    return false;
  return std::nullopt;
}

namespace {

// strconv.ParseUint(s, base, 32) for base 8 or 10 (no sign, no prefix).
std::optional<uint64_t> ParseUint32(std::string_view s, int base) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = c - '0';
    if (d < 0 || d >= base) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    if (v > 0xFFFFFFFFull) return std::nullopt;
  }
  return v;
}

class MountParser {
 public:
  MountParser(WordExpander* expand, Dialect dialect) : expand_(expand), dialect_(dialect) {}

  Result<Mount> Parse(std::string_view spec) {
    Result<std::vector<std::string>> fields = SplitCsv(spec);
    if (!fields.ok()) return Err("failed to parse csv mounts: " + fields.status().message());
    Mount m;
    bool ro_auto = true;
    for (const std::string& field : *fields) {
      size_t eq = field.find('=');
      std::string key = text::ToLower(std::string_view(field).substr(0, eq));
      if (eq == std::string::npos) {
        if (expand_ == nullptr) continue;  // evaluated after expansion
        if (key == "readonly" || key == "ro") {
          m.read_only = true;
          ro_auto = false;
        } else if (key == "readwrite" || key == "rw") {
          m.read_only = false;
          ro_auto = false;
        } else if (key == "required") {
          if (m.type != "secret" && m.type != "ssh") return UnexpectedKey(key, m.type);
          m.required = true;
        } else if (dialect_ == Dialect::kBuildah &&
                   (field == "z" || field == "Z" || field == "U" || field == "tmpcopyup")) {
          // buildah's run mount options (buildah-build(1), RUN --mount):
          // SELinux relabelling (no SELinux here), chown to the step's user,
          // and a tmpfs holding the target's contents.
          m.tmpcopyup = m.tmpcopyup || field == "tmpcopyup";
          m.extensions.push_back(field);
        } else {
          return Err("invalid field '" + field + "' must be a key=value pair");
        }
        continue;
      }
      std::string value = field.substr(eq + 1);
      if (expand_ != nullptr) {
        Result<std::string> v = expand_->Expand(value);
        if (!v.ok()) return v.status();
        value = std::move(v).value();
      } else if (key == "from") {
        size_t dollar = value.find('$');
        if (dollar != std::string::npos && dollar != value.size() - 1) {
          return Err("'from' doesn't support variable expansion, define alias stage instead");
        }
      } else {
        continue;
      }
      HOIST_RETURN_IF_ERROR(Field(&m, key, field, value, &ro_auto));
    }
    bool file_info_allowed = m.type == "secret" || m.type == "ssh" || m.type == "cache";
    if (!file_info_allowed) {
      if (m.mode) return Err("mode not allowed for " + text::Quote(m.type) + " type mounts");
      if (m.uid) return Err("uid not allowed for " + text::Quote(m.type) + " type mounts");
      if (m.gid) return Err("gid not allowed for " + text::Quote(m.type) + " type mounts");
    }
    if (m.tmpcopyup && m.type != "tmpfs") return UnexpectedKey("tmpcopyup", m.type);
    if (ro_auto) m.read_only = !(m.type == "cache" || m.type == "tmpfs");
    if (m.type == "secret") {
      if (!m.from.empty()) return Err("secret mount should not have a from");
      if (!m.sharing.empty()) return Err("secret mount should not define sharing");
      if (m.source.empty() && m.target.empty() && m.cache_id.empty()) {
        return Err("invalid secret mount. one of source, target required");
      }
      if (!m.source.empty() && !m.cache_id.empty()) return Err("both source and id can't be set");
    }
    if (!m.sharing.empty() && m.type != "cache") {
      return Err("invalid cache sharing set for " + m.type + " mount");
    }
    return m;
  }

 private:
  static Status Err(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status UnexpectedKey(const std::string& key, const std::string& type) {
    return Err("unexpected key '" + key + "' for mount type '" + type + "'");
  }
  static Status BadValue(const std::string& key, const std::string& value) {
    return Err("invalid value for " + key + ": " + value);
  }

  Status Field(Mount* m, const std::string& key, const std::string& field, const std::string& value,
               bool* ro_auto) {
    if (key == "type") {
      std::string v = text::ToLower(value);
      static const std::vector<std::string> kTypes = {"bind", "cache", "tmpfs", "secret", "ssh"};
      if (std::find(kTypes.begin(), kTypes.end(), v) == kTypes.end()) {
        std::string msg = "unsupported mount type " + text::Quote(value);
        std::string s = text::Suggest(value, kTypes, true);
        if (!s.empty()) msg += " (did you mean " + s + "?)";
        return Err(msg);
      }
      m->type = v;
    } else if (key == "from") {
      m->from = value;
    } else if (key == "source" || key == "src") {
      m->source = value;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m->target = value;
    } else if (key == "readonly" || key == "ro") {
      std::optional<bool> b = ParseBool(value);
      if (!b) return BadValue(key, value);
      m->read_only = *b;
      *ro_auto = false;
    } else if (key == "readwrite" || key == "rw") {
      std::optional<bool> b = ParseBool(value);
      if (!b) return BadValue(key, value);
      m->read_only = !*b;
      *ro_auto = false;
    } else if (key == "required") {
      if (m->type != "secret" && m->type != "ssh") return UnexpectedKey(key, m->type);
      std::optional<bool> b = ParseBool(value);
      if (!b) return BadValue(key, value);
      m->required = *b;
    } else if (key == "size") {
      if (m->type != "tmpfs") return UnexpectedKey(key, m->type);
      Result<int64_t> n = ParseRamBytes(value);
      if (!n.ok()) return BadValue(key, value);
      m->size_limit = *n;
    } else if (key == "id") {
      m->cache_id = value;
    } else if (key == "sharing") {
      std::string v = text::ToLower(value);
      static const std::vector<std::string> kModes = {"shared", "private", "locked"};
      if (std::find(kModes.begin(), kModes.end(), v) == kModes.end()) {
        std::string msg = "unsupported sharing value " + text::Quote(value);
        std::string s = text::Suggest(value, kModes, true);
        if (!s.empty()) msg += " (did you mean " + s + "?)";
        return Err(msg);
      }
      m->sharing = v;
    } else if (key == "mode") {
      std::optional<uint64_t> v = ParseUint32(value, 8);
      if (!v) return Err("invalid value " + value + " for mode");
      m->mode = v;
    } else if (key == "uid") {
      std::optional<uint64_t> v = ParseUint32(value, 10);
      if (!v) return Err("invalid value " + value + " for uid");
      m->uid = v;
    } else if (key == "gid") {
      std::optional<uint64_t> v = ParseUint32(value, 10);
      if (!v) return Err("invalid value " + value + " for gid");
      m->gid = v;
    } else if (key == "env") {
      m->env = value;
    } else if (key == "relabel" && dialect_ == Dialect::kBuildah) {
      if (value != "shared" && value != "private") return BadValue(key, value);
      m->extensions.push_back(field);
    } else {
      static const std::vector<std::string> kKeys = {
          "type",        "from", "source", "target",    "readonly", "id",  "sharing",
          "required",    "size", "mode",   "uid",       "gid",      "src", "dst",
          "destination", "ro",   "rw",     "readwrite", "env"};
      std::string msg = "unexpected key '" + key + "' in '" + field + "'";
      std::string s = text::Suggest(key, kKeys, true);
      if (!s.empty()) msg += " (did you mean " + s + "?)";
      return Err(msg);
    }
    return Status::Ok();
  }

  WordExpander* expand_;
  Dialect dialect_;
};

}  // namespace

Result<Mount> ParseMount(std::string_view spec, WordExpander* expand, Dialect dialect) {
  return MountParser(expand, dialect).Parse(spec);
}

Result<Device> ParseDevice(std::string_view spec) {
  Result<std::vector<std::string>> fields = SplitCsv(spec);
  if (!fields.ok()) {
    return Status(Code::kInvalidArgument,
                  "failed to parse csv devices: " + fields.status().message());
  }
  Device d;
  for (const std::string& field : *fields) {
    size_t eq = field.find('=');
    std::string key = text::ToLower(std::string_view(field).substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "required") {
        d.required = true;
      } else if (d.name.empty()) {
        d.name = field;
      } else {
        return Status(Code::kInvalidArgument,
                      "invalid field '" + field + "' must be a key=value pair");
      }
      continue;
    }
    std::string value = field.substr(eq + 1);
    if (key == "name") {
      if (!d.name.empty())
        return Status(Code::kInvalidArgument, "device name already set to " + d.name);
      d.name = value;
    } else if (key == "required") {
      std::optional<bool> b = ParseBool(value);
      if (!b) return Status(Code::kInvalidArgument, "invalid value for " + key + ": " + value);
      d.required = *b;
    } else if (d.name.empty()) {
      d.name = field;
    } else {
      return Status(Code::kInvalidArgument, "unexpected key '" + key + "' in '" + field + "'");
    }
  }
  return d;
}

Result<int64_t> ParseDuration(std::string_view orig) {
  auto invalid = [&](const char* why = "invalid duration ") {
    return Status(Code::kInvalidArgument, std::string("time: ") + why + text::Quote(orig));
  };
  constexpr uint64_t kMax = uint64_t{1} << 63;
  std::string_view s = orig;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return invalid();
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  uint64_t d = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || is_digit(s[0]))) return invalid();
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (v > kMax / 10) return invalid();
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) return invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && is_digit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (kMax - 1) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kMax) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && !(s[u] == '.' || is_digit(s[u]))) ++u;
    if (u == 0) return invalid("missing unit in duration ");
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60ull * 1000000000;
    } else if (unit_name == "h") {
      unit = 3600ull * 1000000000;
    } else {
      return Status(Code::kInvalidArgument, "time: unknown unit " + text::Quote(unit_name) +
                                                " in duration " + text::Quote(orig));
    }
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    d += v;
    if (d > kMax) return invalid();
  }
  if (neg) return d == kMax ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(d);
  if (d > kMax - 1) return invalid();
  return static_cast<int64_t>(d);
}

Result<int64_t> ParseRamBytes(std::string_view s) {
  // ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
  auto invalid = [&] {
    return Status(Code::kInvalidArgument, "invalid size: '" + std::string(s) + "'");
  };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == 0) return invalid();
  int dots = 0;
  while (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j;
    if (j == i + 1) break;
    ++dots;
    i = j;
  }
  std::string number(s.substr(0, i));
  if (i < s.size() && s[i] == ' ') ++i;
  char unit = 0;
  if (i < s.size() && std::string_view("kKmMgGtTpP").find(s[i]) != std::string_view::npos)
    unit = s[i++];
  if (i < s.size() && (s[i] == 'i' || s[i] == 'I')) ++i;
  if (i < s.size() && (s[i] == 'b' || s[i] == 'B')) ++i;
  if (i != s.size() || dots > 1) return invalid();
  double size = std::strtod(number.c_str(), nullptr);
  double mult = 1;
  switch (unit | 0x20) {
    case 'k':
      mult = 1024.0;
      break;
    case 'm':
      mult = 1024.0 * 1024;
      break;
    case 'g':
      mult = 1024.0 * 1024 * 1024;
      break;
    case 't':
      mult = 1024.0 * 1024 * 1024 * 1024;
      break;
    case 'p':
      mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
      break;
    default:
      break;
  }
  if (unit == 0) mult = 1;
  double bytes = size * mult;
  if (!(bytes < 9.2e18)) return invalid();
  return static_cast<int64_t>(bytes);
}

Result<int> ParseSignal(std::string_view raw) {
  auto invalid = [&] {
    return Status(Code::kInvalidArgument, "Invalid signal: " + std::string(raw));
  };
  std::string_view digits = raw;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  if (!digits.empty() &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    errno = 0;
    long long v = std::strtoll(std::string(raw).c_str(), nullptr, 10);
    if (errno != 0 || v == 0 || v < std::numeric_limits<int>::min() ||
        v > std::numeric_limits<int>::max()) {
      return invalid();
    }
    return static_cast<int>(v);
  }
  std::string name = text::AsciiToUpper(raw);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  static const std::map<std::string, int> kSignals = [] {
    std::map<std::string, int> m = {
        {"ABRT", 6},    {"ALRM", 14},   {"BUS", 7},   {"CHLD", 17}, {"CLD", 17},   {"CONT", 18},
        {"FPE", 8},     {"HUP", 1},     {"ILL", 4},   {"INT", 2},   {"IO", 29},    {"IOT", 6},
        {"KILL", 9},    {"PIPE", 13},   {"POLL", 29}, {"PROF", 27}, {"PWR", 30},   {"QUIT", 3},
        {"SEGV", 11},   {"STKFLT", 16}, {"STOP", 19}, {"SYS", 31},  {"TERM", 15},  {"TRAP", 5},
        {"TSTP", 20},   {"TTIN", 21},   {"TTOU", 22}, {"URG", 23},  {"USR1", 10},  {"USR2", 12},
        {"VTALRM", 26}, {"WINCH", 28},  {"XCPU", 24}, {"XFSZ", 25}, {"RTMIN", 34}, {"RTMAX", 64}};
    for (int i = 1; i <= 15; ++i) {
      m["RTMIN+" + std::to_string(i)] = 34 + i;
      m["RTMAX-" + std::to_string(i)] = 64 - i;
    }
    return m;
  }();
  auto it = kSignals.find(name);
  if (it == kSignals.end()) return invalid();
  return it->second;
}

}  // namespace hoist::dockerfile
