#include "builder/dockerfile/report.h"

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {
namespace {

using nlohmann::json;

// JSON strings must be valid UTF-8; Dockerfiles need not be.
json Str(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    text::Rune r = text::DecodeRune(s, i);
    if (r.value == text::kRuneError && r.width == 1) {
      text::AppendRune(&out, text::kRuneError);
    } else {
      out.append(s, i, r.width);
    }
    i += r.width;
  }
  return out;
}

json Strs(const std::vector<std::string>& v) {
  json a = json::array();
  for (const std::string& s : v) a.push_back(Str(s));
  return a;
}

// A word for a Dockerfile-like line: quoted when it would not read back.
std::string Word(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == '\n') plain = false;
  }
  return plain ? s : text::Quote(s);
}

std::string JsonArray(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + text::Quote(v[i]);
  return out + "]";
}

std::string CommandLineText(const CommandLine& cl) {
  if (!cl.prepend_shell) return JsonArray(cl.args);
  std::string out;
  for (const std::string& a : cl.args) out += (out.empty() ? "" : " ") + a;
  return out;
}

void Flag(std::string* out, const char* name, const std::string& value) {
  if (!value.empty()) *out += std::string(" --") + name + "=" + Word(value);
}

std::string FilesText(const SourcesAndDest& f) {
  std::string out;
  for (const std::string& p : f.source_paths) out += " " + Word(p);
  for (const SourceContent& c : f.source_contents) out += " <<" + c.path;
  return out + " " + Word(f.dest);
}

std::string KeyValues(const std::vector<KeyValue>& kvs) {
  std::string out;
  for (const KeyValue& kv : kvs) out += " " + Word(kv.key) + "=" + Word(kv.value);
  return out;
}

std::string DurationText(int64_t ns) {
  if (ns % 1000000000 == 0) return std::to_string(ns / 1000000000) + "s";
  if (ns % 1000000 == 0) return std::to_string(ns / 1000000) + "ms";
  return std::to_string(ns) + "ns";
}

struct Formatter {
  std::string operator()(const RunCommand& c) const {
    std::string out = "RUN";
    for (const std::string& m : c.mount_specs) out += " --mount=" + m;
    if (c.network != "default") out += " --network=" + c.network;
    if (c.security != "sandbox") out += " --security=" + c.security;
    for (const std::string& d : c.device_specs) out += " --device=" + d;
    return out + " " + CommandLineText(c.cmdline);
  }
  std::string operator()(const CmdCommand& c) const { return "CMD " + CommandLineText(c.cmdline); }
  std::string operator()(const EntrypointCommand& c) const {
    return "ENTRYPOINT " + CommandLineText(c.cmdline);
  }
  std::string operator()(const ShellCommand& c) const { return "SHELL " + JsonArray(c.shell); }
  std::string operator()(const EnvCommand& c) const { return "ENV" + KeyValues(c.env); }
  std::string operator()(const LabelCommand& c) const { return "LABEL" + KeyValues(c.labels); }
  std::string operator()(const MaintainerCommand& c) const { return "MAINTAINER " + c.maintainer; }
  std::string operator()(const AddCommand& c) const {
    std::string out = "ADD";
    Flag(&out, "chown", c.chown);
    Flag(&out, "chmod", c.chmod);
    Flag(&out, "checksum", c.checksum);
    if (c.link) out += " --link";
    if (c.keep_git_dir)
      out += std::string(" --keep-git-dir=") + (*c.keep_git_dir ? "true" : "false");
    if (c.unpack) out += std::string(" --unpack=") + (*c.unpack ? "true" : "false");
    for (const std::string& e : c.excludes) Flag(&out, "exclude", e);
    return out + FilesText(c.files);
  }
  std::string operator()(const CopyCommand& c) const {
    std::string out = "COPY";
    Flag(&out, "from", c.from);
    Flag(&out, "chown", c.chown);
    Flag(&out, "chmod", c.chmod);
    if (c.link) out += " --link";
    if (c.parents) out += " --parents";
    for (const std::string& e : c.excludes) Flag(&out, "exclude", e);
    return out + FilesText(c.files);
  }
  std::string operator()(const ExposeCommand& c) const {
    std::string out = "EXPOSE";
    for (const std::string& p : c.ports) out += " " + Word(p);
    return out;
  }
  std::string operator()(const VolumeCommand& c) const { return "VOLUME " + JsonArray(c.volumes); }
  std::string operator()(const UserCommand& c) const { return "USER " + Word(c.user); }
  std::string operator()(const WorkdirCommand& c) const { return "WORKDIR " + Word(c.path); }
  std::string operator()(const StopSignalCommand& c) const {
    return "STOPSIGNAL " + Word(c.signal);
  }
  std::string operator()(const ArgCommand& c) const {
    std::string out = "ARG";
    for (const ArgDef& a : c.args) out += " " + Word(a.key) + (a.value ? "=" + Word(*a.value) : "");
    return out;
  }
  std::string operator()(const OnbuildCommand& c) const { return "ONBUILD " + c.expression; }
  std::string operator()(const HealthcheckCommand& c) const {
    if (c.test.size() == 1 && c.test[0] == "NONE") return "HEALTHCHECK NONE";
    std::string out = "HEALTHCHECK";
    if (c.interval_ns) out += " --interval=" + DurationText(c.interval_ns);
    if (c.timeout_ns) out += " --timeout=" + DurationText(c.timeout_ns);
    if (c.start_period_ns) out += " --start-period=" + DurationText(c.start_period_ns);
    if (c.start_interval_ns) out += " --start-interval=" + DurationText(c.start_interval_ns);
    if (c.retries) out += " --retries=" + std::to_string(c.retries);
    out += " CMD ";
    std::vector<std::string> rest(c.test.begin() + 1, c.test.end());
    if (c.test[0] == "CMD-SHELL") return out + (rest.empty() ? "" : rest[0]);
    return out + JsonArray(rest);
  }
};

json CommandLineJson(const CommandLine& cl) {
  json j = {{"args", Strs(cl.args)}, {"shell_form", cl.prepend_shell}};
  if (!cl.files.empty()) {
    json files = json::array();
    for (const InlineFile& f : cl.files) {
      files.push_back({{"name", Str(f.name)}, {"data", Str(f.data)}, {"chomp", f.chomp}});
    }
    j["heredocs"] = files;
  }
  return j;
}

json FilesJson(const SourcesAndDest& f) {
  json j = {{"sources", Strs(f.source_paths)}, {"dest", Str(f.dest)}};
  if (!f.source_contents.empty()) {
    json docs = json::array();
    for (const SourceContent& c : f.source_contents) {
      docs.push_back({{"path", Str(c.path)}, {"data", Str(c.data)}, {"expand", c.expand}});
    }
    j["heredocs"] = docs;
  }
  return j;
}

json KeyValuesJson(const std::vector<KeyValue>& kvs) {
  json a = json::array();
  for (const KeyValue& kv : kvs)
    a.push_back({{"key", Str(kv.key)}, {"value", Str(kv.value)}, {"legacy", kv.legacy}});
  return a;
}

json MountJson(const Mount& m) {
  json j = {{"type", m.type}, {"readonly", m.read_only}};
  if (!m.from.empty()) j["from"] = Str(m.from);
  if (!m.source.empty()) j["source"] = Str(m.source);
  if (!m.target.empty()) j["target"] = Str(m.target);
  if (!m.cache_id.empty()) j["id"] = Str(m.cache_id);
  if (!m.sharing.empty()) j["sharing"] = m.sharing;
  if (m.required) j["required"] = true;
  if (m.size_limit) j["size"] = m.size_limit;
  if (m.env) j["env"] = Str(*m.env);
  if (m.mode) j["mode"] = *m.mode;
  if (m.uid) j["uid"] = *m.uid;
  if (m.gid) j["gid"] = *m.gid;
  if (m.tmpcopyup) j["tmpcopyup"] = true;
  return j;
}

struct ToJson {
  json operator()(const RunCommand& c) const {
    json j = CommandLineJson(c.cmdline);
    json mounts = json::array();
    for (const Mount& m : c.mounts) mounts.push_back(MountJson(m));
    j["mounts"] = mounts;
    j["network"] = c.network;
    j["security"] = c.security;
    if (!c.devices.empty()) {
      json devices = json::array();
      for (const Device& d : c.devices)
        devices.push_back({{"name", Str(d.name)}, {"required", d.required}});
      j["devices"] = devices;
    }
    return j;
  }
  json operator()(const CmdCommand& c) const { return CommandLineJson(c.cmdline); }
  json operator()(const EntrypointCommand& c) const { return CommandLineJson(c.cmdline); }
  json operator()(const ShellCommand& c) const { return {{"shell", Strs(c.shell)}}; }
  json operator()(const EnvCommand& c) const { return {{"env", KeyValuesJson(c.env)}}; }
  json operator()(const LabelCommand& c) const { return {{"labels", KeyValuesJson(c.labels)}}; }
  json operator()(const MaintainerCommand& c) const { return {{"maintainer", Str(c.maintainer)}}; }
  json operator()(const AddCommand& c) const {
    json j = FilesJson(c.files);
    j["chown"] = Str(c.chown);
    j["chmod"] = Str(c.chmod);
    j["checksum"] = Str(c.checksum);
    j["link"] = c.link;
    if (c.keep_git_dir) j["keep_git_dir"] = *c.keep_git_dir;
    if (c.unpack) j["unpack"] = *c.unpack;
    j["excludes"] = Strs(c.excludes);
    return j;
  }
  json operator()(const CopyCommand& c) const {
    json j = FilesJson(c.files);
    j["from"] = Str(c.from);
    j["chown"] = Str(c.chown);
    j["chmod"] = Str(c.chmod);
    j["link"] = c.link;
    j["parents"] = c.parents;
    j["excludes"] = Strs(c.excludes);
    return j;
  }
  json operator()(const ExposeCommand& c) const { return {{"ports", Strs(c.ports)}}; }
  json operator()(const VolumeCommand& c) const { return {{"volumes", Strs(c.volumes)}}; }
  json operator()(const UserCommand& c) const { return {{"user", Str(c.user)}}; }
  json operator()(const WorkdirCommand& c) const { return {{"path", Str(c.path)}}; }
  json operator()(const StopSignalCommand& c) const { return {{"signal", Str(c.signal)}}; }
  json operator()(const ArgCommand& c) const {
    json a = json::array();
    for (const ArgDef& d : c.args) {
      json e = {{"key", Str(d.key)}};
      e["value"] = d.value ? Str(*d.value) : json(nullptr);
      if (!d.doc.empty()) e["doc"] = Str(d.doc);
      a.push_back(e);
    }
    return {{"args", a}};
  }
  json operator()(const OnbuildCommand& c) const { return {{"expression", Str(c.expression)}}; }
  json operator()(const HealthcheckCommand& c) const {
    return {{"test", Strs(c.test)},
            {"interval_ns", c.interval_ns},
            {"timeout_ns", c.timeout_ns},
            {"start_period_ns", c.start_period_ns},
            {"start_interval_ns", c.start_interval_ns},
            {"retries", c.retries}};
  }
};

const char* BaseKindName(BaseKind k) {
  switch (k) {
    case BaseKind::kImage:
      return "image";
    case BaseKind::kStage:
      return "stage";
    case BaseKind::kScratch:
      return "scratch";
  }
  return "image";
}

std::string StageRef(const BuildPlan& plan, size_t i) {
  return "[" + std::to_string(i) + "] " + plan.stages[i].display_name;
}

}  // namespace

std::string FormatCommand(const Command& c) {
  return std::visit(Formatter{}, c);
}

std::string FormatStageHeader(const PlannedStage& s) {
  std::string out = "FROM " + Word(s.base);
  if (!s.platform_expr.empty()) out = "FROM --platform=" + s.platform_expr + " " + Word(s.base);
  if (!s.name.empty()) out += " AS " + s.name;
  return out;
}

json CommandToJson(const Command& c) {
  const CommandBase& b = Base(c);
  json j = std::visit(ToJson{}, c);
  j["instruction"] = text::AsciiToUpper(b.name);
  j["line"] = b.line();
  j["source"] = Str(b.code);
  j["text"] = Str(FormatCommand(c));
  return j;
}

json DockerfileToJson(const Dockerfile& df) {
  json j;
  j["file"] = Str(df.source->name());
  j["escape"] = std::string(1, df.escape);
  json meta = json::array();
  for (const ArgCommand& a : df.meta_args) meta.push_back(CommandToJson(a));
  j["meta_args"] = meta;
  json stages = json::array();
  for (size_t i = 0; i < df.stages.size(); ++i) {
    const Stage& s = df.stages[i];
    json st = {{"index", i},
               {"name", Str(s.name)},
               {"base", Str(s.base_name)},
               {"platform", Str(s.platform)},
               {"line", s.node ? s.node->start_line : 0},
               {"source", Str(s.code)}};
    if (!s.doc.empty()) st["doc"] = Str(s.doc);
    json cmds = json::array();
    for (const Command& c : s.commands) cmds.push_back(CommandToJson(c));
    st["instructions"] = cmds;
    stages.push_back(st);
  }
  j["stages"] = stages;
  return j;
}

json PlanToJson(const BuildPlan& plan) {
  json j;
  j["build_platform"] = plan.build_platform.Format();
  j["target_platform"] = plan.target_platform.Format();
  j["target"] = {{"index", plan.target}, {"name", Str(plan.stages[plan.target].display_name)}};
  json global = json::object();
  for (const auto& [k, v] : plan.global_args.entries()) global[k] = Str(v);
  j["global_args"] = global;
  json waves = json::array();
  for (const auto& w : plan.waves) waves.push_back(w);
  j["waves"] = waves;
  json stages = json::array();
  for (const PlannedStage& s : plan.stages) {
    json st = {{"index", s.index},
               {"name", Str(s.display_name)},
               {"base", Str(s.base)},
               {"base_kind", BaseKindName(s.base_kind)},
               {"platform", s.platform.Format()},
               {"needed", s.needed}};
    if (s.base_stage) st["base_stage"] = *s.base_stage;
    if (!s.base_ref.empty()) st["base_ref"] = Str(s.base_ref);
    json deps = json::array();
    for (const StageDep& d : s.deps) {
      json dj = {{"via", d.via == StageDep::Via::kCopyFrom ? "copy" : "mount"}, {"line", d.line}};
      if (d.stage) {
        dj["stage"] = *d.stage;
      } else {
        dj["image"] = Str(d.image);
      }
      deps.push_back(dj);
    }
    st["deps"] = deps;
    if (s.needed) {
      st["wave"] = s.wave;
      json args = json::object();
      for (const ArgDef& a : s.args) args[a.key] = a.value ? Str(*a.value) : json(nullptr);
      st["args"] = args;
      json env = json::object();
      for (const auto& [k, v] : s.env.entries()) env[k] = Str(v);
      st["env"] = env;
      st["env_complete"] = s.env_complete;
      json cmds = json::array();
      for (const Command& c : s.commands) cmds.push_back(CommandToJson(c));
      st["instructions"] = cmds;
    }
    stages.push_back(st);
  }
  j["stages"] = stages;
  j["unused_build_args"] = Strs(plan.unused_build_args);
  json proxy = json::object();
  for (const auto& [k, v] : plan.proxy_env) proxy[k] = Str(v);
  j["proxy_env"] = proxy;
  j["warnings"] = WarningsToJson(plan.warnings);
  return j;
}

json WarningsToJson(const std::vector<Warning>& warnings) {
  json out = json::array();
  for (const Warning& w : warnings) {
    json wj = json::object();
    if (!w.rule.empty()) wj["rule"] = w.rule;
    if (w.position.line > 0) wj["line"] = w.position.line;
    wj["message"] = Str(w.message);
    out.push_back(wj);
  }
  return out;
}

std::string PlanToText(const BuildPlan& plan) {
  std::string out;
  const PlannedStage& target = plan.stages[plan.target];
  out += "target: " + StageRef(plan, plan.target) + " for " + plan.target_platform.Format() +
         " (build platform " + plan.build_platform.Format() + ")\n";
  size_t needed = 0;
  for (const auto& w : plan.waves) needed += w.size();
  out += "stages: " + std::to_string(needed) + " of " + std::to_string(plan.stages.size()) +
         " needed, in " + std::to_string(plan.waves.size()) +
         " wave(s); stages of one wave are independent and may build in parallel\n";
  for (size_t w = 0; w < plan.waves.size(); ++w) {
    out += "  wave " + std::to_string(w + 1) + (plan.waves[w].size() > 1 ? " (parallel):" : ":");
    for (size_t k = 0; k < plan.waves[w].size(); ++k) {
      out += (k ? ", " : " ") + StageRef(plan, plan.waves[w][k]);
    }
    out += "\n";
  }
  for (const auto& wave : plan.waves) {
    for (size_t i : wave) {
      const PlannedStage& s = plan.stages[i];
      out += "\n" + StageRef(plan, i) + ": " + FormatStageHeader(s) + "\n";
      std::string base = s.base_kind == BaseKind::kStage
                             ? "stage " + StageRef(plan, *s.base_stage)
                             : std::string(BaseKindName(s.base_kind)) + " " +
                                   (s.base_ref.empty() ? s.base : s.base_ref);
      out += "    base: " + base + ", platform " + s.platform.Format() + "\n";
      for (const StageDep& d : s.deps) {
        out += "    needs: ";
        out += d.stage ? "stage " + StageRef(plan, *d.stage) : "image " + d.image;
        out += std::string(" (") +
               (d.via == StageDep::Via::kCopyFrom ? "COPY --from" : "RUN --mount from") +
               ", line " + std::to_string(d.line) + ")\n";
      }
      for (const Command& c : s.commands) {
        out += "    " + std::to_string(Base(c).line()) + ": " + FormatCommand(c) + "\n";
      }
    }
  }
  std::string pruned;
  for (const PlannedStage& s : plan.stages) {
    if (!s.needed) pruned += (pruned.empty() ? "" : ", ") + StageRef(plan, s.index);
  }
  if (!pruned.empty())
    out += "\npruned (not needed by " + target.display_name + "): " + pruned + "\n";
  if (!plan.proxy_env.empty()) {
    out += "\nproxy args passed to RUN:";
    for (const auto& [k, v] : plan.proxy_env) out += " " + k;
    out += "\n";
  }
  return out;
}

}  // namespace hoist::dockerfile
