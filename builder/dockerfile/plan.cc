#include "builder/dockerfile/plan.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/report.h"
#include "builder/dockerfile/text.h"
#include "common/reference.h"

namespace hoist::dockerfile {
namespace {

// The message of a diagnostic without its location and quoted line.
std::string PlainMessage(const Status& st) {
  if (!st.detail().empty()) {
    nlohmann::json d = nlohmann::json::parse(st.detail(), nullptr, false);
    if (d.is_object() && d.contains("message") && d["message"].is_string()) {
      return d["message"].get<std::string>();
    }
  }
  return st.message();
}

// strconv.Atoi: optional sign and decimal digits, within int64.
std::optional<int64_t> GoAtoi(std::string_view s) {
  std::string_view d = s;
  if (!d.empty() && (d[0] == '+' || d[0] == '-')) d.remove_prefix(1);
  if (d.empty() || !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  errno = 0;
  long long v = std::strtoll(std::string(s).c_str(), nullptr, 10);
  if (errno != 0) return std::nullopt;
  return v;
}

bool IsProxyArg(std::string_view key) {
  for (const char* p : {"http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"}) {
    if (text::AsciiEqualFold(key, p)) return true;
  }
  return false;
}

// Build args Docker never reports as unconsumed.
bool IsBuiltinArg(std::string_view key) {
  static const std::set<std::string, std::less<>> kBuiltin = {
      "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",        "ftp_proxy",
      "NO_PROXY",   "no_proxy",   "ALL_PROXY",   "all_proxy",   "SOURCE_DATE_EPOCH"};
  return kBuiltin.count(key) != 0 || key.rfind("BUILDKIT_", 0) == 0;
}

// Expands words of one stage, remembering the variables that were unset.
class StageExpander : public WordExpander {
 public:
  StageExpander(const ShellLex& lex, const Env& env) : lex_(lex), env_(env) {}
  Result<std::string> Expand(std::string_view word) override {
    Result<WordResult> r = lex_.ProcessWordWithMatches(word, env_);
    if (!r.ok()) return r.status();
    unmatched_.insert(r->unmatched.begin(), r->unmatched.end());
    return std::move(r->word);
  }
  bool unresolved() const { return !unmatched_.empty(); }
  const std::set<std::string>& unmatched() const { return unmatched_; }
  void reset() { unmatched_.clear(); }

 private:
  const ShellLex& lex_;
  const Env& env_;
  std::set<std::string> unmatched_;
};

// splitParts: [ip:]host:container
void SplitPortParts(const std::string& raw, std::string* ip, std::string* host,
                    std::string* container) {
  std::vector<std::string> parts = text::Split(raw, ':');
  size_t n = parts.size();
  *container = parts[n - 1];
  if (n >= 2) *host = parts[n - 2];
  for (size_t i = 0; i + 2 < n; ++i) *ip += (i ? ":" : "") + parts[i];
}

// ---- Check helpers ----------------------------------------------------------

// ARGs that never reach the environment (BuildKit's nonEnvArgs).
bool IsNonEnvArg(std::string_view key) {
  return key == "BUILDKIT_SBOM_SCAN_CONTEXT" || key == "BUILDKIT_SBOM_SCAN_STAGE";
}

// SecretsUsedInArgOrEnv's test of a name, BuildKit's
// (?i)(?:_|^)(?:apikey|auth|...)(?:_|$) without (?i)(?:_|^)(?:public|...)(?:_|$):
// one of its '_'-separated words is a secret word and none an allowed one.
bool LooksSecret(std::string_view key) {
  static const std::set<std::string, std::less<>> kSecret = {
      "apikey",   "auth",  "credential", "credentials", "key",
      "password", "pword", "passwd",     "secret",      "token"};
  static const std::set<std::string, std::less<>> kAllowed = {"public", "file", "version"};
  bool secret = false;
  for (const std::string& word : text::Split(key, '_')) {
    std::string w = text::ToLower(word);
    if (kAllowed.count(w)) return false;
    secret = secret || kSecret.count(w) != 0;
  }
  return secret;
}

// The names in `env`, for "did you mean" suggestions.
std::vector<std::string> Keys(const Env& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env.entries()) out.push_back(k);
  return out;
}

std::string DidYouMean(std::string_view prefix, const std::string& suggestion) {
  return suggestion.empty() ? "" : " (did you mean " + std::string(prefix) + suggestion + "?)";
}

// What the instruction checks know of a stage as its instructions
// dispatch. A stage built on another starts from that one's (but for the
// instructions it has seen: BuildKit counts those per stage).
struct StageFacts {
  bool workdir_set = false;    // a WORKDIR ran (WorkdirRelativePath checks the first)
  bool shell_set = false;      // a SHELL ran (JSONArgsRecommended)
  std::set<std::string> args;  // ARGs declared (never UndefinedVar)
  // MultipleInstructionsDisallowed: the last CMD, ENTRYPOINT, HEALTHCHECK seen.
  std::optional<std::shared_ptr<const Node>> cmd, entrypoint, healthcheck;
};

// Variables a build carries, summed over stages (a stage built on another
// copies its variables): beyond this the plan is refused rather than let a
// Dockerfile like "ENV A=$A$A" (repeated) exhaust memory.
constexpr size_t kMaxPlanBytes = size_t{64} << 20;

class Planner {
 public:
  Planner(const Dockerfile& df, const PlanOptions& opt)
      : df_(df), opt_(opt), src_(df.source.get()), lex_(df.escape), graph_(df.stages.size()) {}

  Result<BuildPlan> Run() {
    Result<CheckConfig> check_config = ResolveCheckConfig(src_, df_.directives, opt_.build_args);
    if (!check_config.ok()) return check_config.status();
    if (df_.stages.empty()) return ErrorAt(src_, {}, "dockerfile contains no stages to build");
    plan_.build_platform = opt_.build_platform;
    plan_.target_platform = opt_.target_platform.value_or(opt_.build_platform);
    for (const auto& [k, v] : opt_.build_args) {
      if (IsProxyArg(k)) plan_.proxy_env[k] = v;
    }
    HOIST_RETURN_IF_ERROR(GlobalArgs());
    HOIST_RETURN_IF_ERROR(Stages());
    HOIST_RETURN_IF_ERROR(Target());
    for (size_t i = 0; i < df_.stages.size(); ++i) {
      for (const Command& c : df_.stages[i].commands) HOIST_RETURN_IF_ERROR(CollectDeps(i, c));
    }
    HOIST_RETURN_IF_ERROR(CheckCycles());
    HOIST_RETURN_IF_ERROR(Triggers());
    std::vector<size_t> needed = graph_.Needed(plan_.target);
    for (size_t i : needed) plan_.stages[i].needed = true;
    for (size_t i : needed) HOIST_RETURN_IF_ERROR(Dispatch(i));
    plan_.waves = graph_.Waves(needed);
    for (size_t w = 0; w < plan_.waves.size(); ++w) {
      for (size_t s : plan_.waves[w]) plan_.stages[s].wave = static_cast<int>(w);
    }
    for (const auto& [k, v] : opt_.build_args) {
      if (!declared_.count(k) && !IsBuiltinArg(k) && !automatic_.count(k)) {
        plan_.unused_build_args.push_back(k);
      }
    }
    if (opt_.check_all_stages) CheckPrunedStages();
    std::vector<Warning> warnings = df_.warnings;
    warnings.insert(warnings.end(), checks_.begin(), checks_.end());
    if (!plan_.unused_build_args.empty()) {
      std::string list;
      for (const std::string& k : plan_.unused_build_args) list += (list.empty() ? "" : " ") + k;
      warnings.push_back({"one or more build-args [" + list + "] were not consumed", {}, ""});
    }
    Result<std::vector<Warning>> reported =
        ApplyCheckConfig(*check_config, src_, std::move(warnings), CommentsByLine());
    if (!reported.ok()) return reported.status();
    plan_.warnings = std::move(reported).value();
    return std::move(plan_);
  }

 private:
  Status At(const std::shared_ptr<const Node>& node, std::string_view needle,
            const std::string& msg) const {
    if (!node) return ErrorAt(src_, {}, msg);
    return ErrorAt(src_, node->PositionOfText(needle), msg);
  }

  // Reports a check about the instruction of `node`.
  void Check(const CheckRule& rule, std::string message, const std::shared_ptr<const Node>& node) {
    checks_.push_back(
        CheckWarning(rule, std::move(message), node ? node->PositionOf(0) : Position{}));
  }

  // The comments above each instruction, by its first line.
  std::map<int, std::vector<std::string>> CommentsByLine() const {
    std::map<int, std::vector<std::string>> out;
    auto add = [&](const std::shared_ptr<const Node>& n) {
      if (n && !n->comments.empty()) out[n->start_line] = n->comments;
    };
    for (const ArgCommand& a : df_.meta_args) add(a.node);
    for (const Stage& st : df_.stages) {
      add(st.node);
      for (const Command& c : st.commands) add(Base(c).node);
    }
    return out;
  }

  // The checks also run on the stages the target does not need; what
  // fails there does not fail the plan, and the stages stay unplanned.
  // (Run has counted the unused build args by then.)
  void CheckPrunedStages() {
    std::vector<PlannedStage> stages = plan_.stages;
    for (size_t i = 0; i < plan_.stages.size(); ++i) {
      if (!plan_.stages[i].needed) (void)Dispatch(i);
    }
    plan_.stages = std::move(stages);
  }

  // defaultArgs + buildMetaArgs.
  Status GlobalArgs() {
    const Platform& bp = plan_.build_platform;
    const Platform& tp = plan_.target_platform;
    std::string target = opt_.target.empty() ? df_.stages.back().name : opt_.target;
    if (target.empty()) target = "default";
    const std::pair<const char*, std::string> defaults[] = {{"BUILDPLATFORM", bp.Format()},
                                                            {"BUILDOS", bp.os},
                                                            {"BUILDOSVERSION", ""},
                                                            {"BUILDARCH", bp.arch},
                                                            {"BUILDVARIANT", bp.variant},
                                                            {"TARGETPLATFORM", tp.Format()},
                                                            {"TARGETOS", tp.os},
                                                            {"TARGETOSVERSION", ""},
                                                            {"TARGETARCH", tp.arch},
                                                            {"TARGETVARIANT", tp.variant},
                                                            {"TARGETSTAGE", target}};
    for (const auto& [k, v] : defaults) {
      auto o = opt_.build_args.find(k);
      plan_.global_args.Set(k, o != opt_.build_args.end() ? o->second : v);
      automatic_.insert(k);
    }
    CheckDefaultBases(plan_.global_args);
    for (const ArgCommand& cmd : df_.meta_args) {
      for (ArgDef def : cmd.args) {
        auto given = opt_.build_args.find(def.key);
        if (given != opt_.build_args.end()) {
          def.value = given->second;
        } else if (def.value) {
          Result<std::string> v = lex_.ProcessWord(*def.value, plan_.global_args);
          if (!v.ok()) return At(cmd.node, *def.value, v.status().message());
          def.value = std::move(v).value();
        }
        if (def.value) plan_.global_args.Set(def.key, *def.value);
        declared_.insert(def.key);
        plan_.meta_args.push_back(std::move(def));
      }
    }
    return Status::Ok();
  }

  // InvalidDefaultArgInFrom: every FROM must name a valid image with the
  // ARG defaults alone (no --build-arg). `args` holds the automatic args.
  void CheckDefaultBases(Env args) {
    for (const ArgCommand& cmd : df_.meta_args) {
      for (const ArgDef& def : cmd.args) {
        if (!def.value) continue;
        Result<std::string> v = lex_.ProcessWord(*def.value, args);
        if (!v.ok()) return;  // the build reports it
        args.Set(def.key, *v);
      }
    }
    for (const Stage& st : df_.stages) {
      Result<std::string> base = lex_.ProcessWord(st.base_name, args);
      if (!base.ok()) return;
      if (Reference::Parse(*base).ok()) continue;
      Check(
          kInvalidDefaultArgInFrom,
          "Default value for ARG " + st.base_name + " results in empty or invalid base image name",
          st.node);
    }
  }

  // UndefinedArgInFrom: a FROM line may use the ARGs declared before the
  // first FROM and the automatic ones.
  void CheckFromArgs(const Stage& st, const std::set<std::string>& unmatched) {
    std::vector<std::string> known;
    for (const std::string& arg : unmatched) {
      if (declared_.count(arg) || plan_.global_args.Get(arg)) continue;
      if (known.empty()) {
        known = Keys(plan_.global_args);
        known.insert(known.end(), declared_.begin(), declared_.end());
      }
      Check(kUndefinedArgInFrom,
            "FROM argument '" + arg + "' is not declared" +
                DidYouMean("", text::Suggest(arg, known, true)),
            st.node);
    }
  }

  // RedundantTargetPlatform and FromPlatformFlagConstDisallowed.
  void CheckPlatformFlag(const Stage& st, const WordResult& platform) {
    if (platform.matched == std::set<std::string>{"TARGETPLATFORM"} && platform.unmatched.empty() &&
        plan_.global_args.Get("TARGETPLATFORM") == platform.word) {
      Check(kRedundantTargetPlatform,
            "Setting platform to predefined " + st.platform +
                " in FROM is redundant as this is the default behavior",
            st.node);
    }
    if (!platform.matched.empty() || !platform.unmatched.empty()) return;
    Result<Platform> p = ParsePlatform(platform.word);
    // A stage named for its platform is meant to be platform-specific.
    if (!p.ok() || st.name.find(p->os) != std::string::npos ||
        st.name.find(p->arch) != std::string::npos) {
      return;
    }
    Check(kFromPlatformFlagConstDisallowed,
          "FROM --platform flag should not use constant value " + text::Quote(platform.word),
          st.node);
  }

  Status Stages() {
    std::map<std::string, size_t> so_far;
    for (size_t i = 0; i < df_.stages.size(); ++i) {
      const Stage& st = df_.stages[i];
      PlannedStage ps;
      ps.index = i;
      ps.name = st.name;
      ps.display_name = st.name.empty() ? "stage-" + std::to_string(i) : st.name;
      Result<WordResult> base = lex_.ProcessWordWithMatches(st.base_name, plan_.global_args);
      if (!base.ok()) return At(st.node, st.base_name, base.status().message());
      CheckFromArgs(st, base->unmatched);
      if (base->word.empty()) {
        return At(st.node, st.base_name, "base name (" + st.base_name + ") should not be blank");
      }
      ps.base = std::move(base->word);
      ps.platform_expr = st.platform;
      ps.platform = plan_.target_platform;
      if (!st.platform.empty()) {
        Result<WordResult> p = lex_.ProcessWordWithMatches(st.platform, plan_.global_args);
        if (!p.ok()) {
          return At(st.node, "--platform",
                    "failed to process arguments for platform: " + p.status().message());
        }
        CheckFromArgs(st, p->unmatched);
        CheckPlatformFlag(st, *p);
        if (p->word.empty())
          return At(st.node, "--platform", "empty platform value from expression " + st.platform);
        Result<Platform> parsed = ParsePlatform(p->word);
        if (!parsed.ok()) {
          return At(st.node, "--platform",
                    "failed to parse platform " + st.platform + ": " + parsed.status().message());
        }
        ps.platform = *parsed;
      }
      auto b = so_far.find(ps.base);
      if (b == so_far.end() && opt_.dialect == Dialect::kBuildah) {
        // Stage names are lowercased; BuildKit looks a FROM up as written
        // (its issue #2003) and so takes "Base" for an image name, which
        // must be lowercase: buildah finds the stage.
        b = so_far.find(text::ToLower(ps.base));
        if (b != so_far.end()) {
          Check(kBuildahExtension,
                "FROM " + ps.base + " names stage " + text::Quote(b->first) +
                    " in other letter case (a buildah/podman extension; BuildKit looks for an "
                    "image of that name)",
                st.node);
        }
      }
      if (b != so_far.end()) {
        ps.base_kind = BaseKind::kStage;
        ps.base_stage = b->second;
        graph_.SetBase(i, b->second);
      } else if (ps.base == "scratch") {
        ps.base_kind = BaseKind::kScratch;
      }
      if (!st.name.empty()) {
        if (st.name == "context" || st.name == "scratch") {
          Check(kReservedStageName,
                "Stage name should not use the same name as reserved stage " + text::Quote(st.name),
                st.node);
        }
        if (by_name_.count(st.name)) {
          Check(kDuplicateStageName,
                "Duplicate stage name " + text::Quote(st.name) + ", stage names should be unique",
                st.node);
        }
        so_far[st.name] = i;
        by_name_[st.name] = i;
      }
      plan_.stages.push_back(std::move(ps));
    }
    return Status::Ok();
  }

  Status Target() {
    if (opt_.target.empty()) {
      plan_.target = df_.stages.size() - 1;
      return Status::Ok();
    }
    auto it = by_name_.find(text::ToLower(opt_.target));
    if (it == by_name_.end()) {
      std::vector<std::string> names;
      for (const PlannedStage& s : plan_.stages) {
        if (!s.name.empty()) names.push_back(s.name);
      }
      std::string msg = "target stage " + text::Quote(opt_.target) + " could not be found";
      std::string s = text::Suggest(opt_.target, names, true);
      if (!s.empty()) msg += " (did you mean " + s + "?)";
      return Status(Code::kInvalidArgument, (src_ ? src_->name() + ": " : "") + msg);
    }
    plan_.target = it->second;
    return Status::Ok();
  }

  std::optional<size_t> StageByName(const std::string& name) const {
    auto it = by_name_.find(text::ToLower(name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
  }

  // The ARGs stage `stage` declares before `at` (all of them for an ONBUILD
  // trigger), valued as Expand(ArgCommand) values them: a build arg, else
  // the default, else the global ARG's value.
  Result<Env> ArgsBefore(size_t stage, const CommandBase& at) {
    Env args;
    for (const Command& c : df_.stages[stage].commands) {
      if (std::visit([](const CommandBase& b) { return b.node; }, c) == at.node) break;
      const auto* arg = std::get_if<ArgCommand>(&c);
      if (arg == nullptr) continue;
      for (const ArgDef& a : arg->args) {
        std::optional<std::string> value;
        if (auto given = opt_.build_args.find(a.key); given != opt_.build_args.end()) {
          value = given->second;
        } else if (a.value) {
          Result<std::string> v = lex_.ProcessWord(*a.value, args);
          if (!v.ok()) return At(arg->node, *a.value, v.status().message());
          value = std::move(v).value();
        } else if (std::optional<std::string_view> g = plan_.global_args.Get(a.key)) {
          value = std::string(*g);
        }
        if (value) args.Set(a.key, *value);
      }
    }
    return args;
  }

  // toCommand + detectRunMount: the stages and images a command reads.
  Status CollectDeps(size_t stage, const Command& c) {
    PlannedStage& ps = plan_.stages[stage];
    if (const auto* copy = std::get_if<CopyCommand>(&c)) {
      if (copy->from.empty()) return Status::Ok();
      Result<std::string> same = lex_.ProcessWord(copy->from, EmptyEnv());
      if (!same.ok()) return At(copy->node, "--from", same.status().message());
      std::string from = copy->from;
      if (*same != copy->from) {
        if (opt_.dialect == Dialect::kBuildKit) {
          return At(copy->node, "--from",
                    "variable expansion is not supported for --from, define a new stage with "
                    "FROM using ARG from global scope as a workaround");
        }
        // buildah expands it with the stage's ARGs; the stage graph needs
        // the name now, before the stage is dispatched.
        Result<Env> args = ArgsBefore(stage, *copy);
        if (!args.ok()) return args.status();
        Result<std::string> name = lex_.ProcessWord(copy->from, *args);
        if (!name.ok()) return At(copy->node, "--from", name.status().message());
        if (name->empty()) {
          return At(copy->node, "--from", "--from=" + copy->from + " expands to an empty name");
        }
        from = std::move(name).value();
        from_names_[copy->node.get()] = from;
      }
      StageDep dep{StageDep::Via::kCopyFrom, std::nullopt, "", copy->line()};
      if (std::optional<int64_t> index = GoAtoi(from)) {
        if (*index < 0 || *index >= static_cast<int64_t>(df_.stages.size())) {
          return At(copy->node, "--from", "invalid stage index " + std::to_string(*index));
        }
        dep.stage = static_cast<size_t>(*index);
      } else {
        dep.stage = StageByName(from);
        if (!dep.stage) dep.image = from;
      }
      if (dep.stage) graph_.AddDep(stage, *dep.stage);
      ps.deps.push_back(std::move(dep));
    } else if (const auto* run = std::get_if<RunCommand>(&c)) {
      for (const Mount& m : run->mounts) {
        if (m.from.empty()) continue;
        StageDep dep{StageDep::Via::kMountFrom, StageByName(m.from), "", run->line()};
        if (!dep.stage) dep.image = m.from;
        if (dep.stage) graph_.AddDep(stage, *dep.stage);
        ps.deps.push_back(std::move(dep));
      }
    }
    return Status::Ok();
  }

  Status CheckCycles() {
    std::vector<size_t> cycle = graph_.FindCycle();
    if (cycle.empty()) return Status::Ok();
    std::string path;
    for (size_t s : cycle) path += (path.empty() ? "" : " -> ") + plan_.stages[s].display_name;
    // Point at the instruction of the first stage that needs the next one.
    int line = 0;
    for (const StageDep& d : plan_.stages[cycle[0]].deps) {
      if (d.stage == cycle[1]) {
        line = d.line;
        break;
      }
    }
    Position pos = line > 0 ? src_->LineStart(line) : Position{};
    return ErrorAt(src_, pos,
                   "circular dependency detected on stage: " + plan_.stages[cycle[0]].display_name +
                       " (" + path + ")");
  }

  // ONBUILD triggers of base stages run first in the stages built on them;
  // they may add dependencies, and so make more stages needed.
  Status Triggers() {
    std::set<size_t> done;
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i : graph_.Needed(plan_.target)) {
        if (done.count(i) || !plan_.stages[i].base_stage) continue;
        done.insert(i);
        const Stage& base = df_.stages[*plan_.stages[i].base_stage];
        for (const Command& c : base.commands) {
          const auto* ob = std::get_if<OnbuildCommand>(&c);
          if (ob == nullptr) continue;
          Result<Command> cmd = TriggerCommand(i, ob->expression);
          if (!cmd.ok()) return cmd.status();
          size_t deps_before = plan_.stages[i].deps.size();
          HOIST_RETURN_IF_ERROR(CollectDeps(i, *cmd));
          changed = changed || plan_.stages[i].deps.size() != deps_before;
          triggers_[i].push_back(std::move(cmd).value());
        }
      }
    }
    return Status::Ok();
  }

  Result<Command> TriggerCommand(size_t stage, const std::string& expression) {
    const Stage& st = df_.stages[stage];
    Position at = st.node->PositionOfText("");
    auto fail = [&](const std::string& why) {
      return ErrorAt(src_, at,
                     "ONBUILD trigger " + text::Quote(expression) + " of stage " +
                         text::Quote(plan_.stages[*plan_.stages[stage].base_stage].display_name) +
                         ": " + why);
    };
    // The trigger is reported at the FROM line of the stage that runs it.
    Result<std::optional<Command>> cmd = ParseTrigger(df_, expression, at.line, at.column);
    if (!cmd.ok()) return fail(PlainMessage(cmd.status()));
    if (!*cmd) return fail("FROM is not a command type");
    return std::move(**cmd);
  }

  // Resolves one needed stage: its environment, ARGs and expanded words.
  Status Dispatch(size_t i) {
    PlannedStage& ps = plan_.stages[i];
    const Stage& st = df_.stages[i];
    for (const StageDep& d : ps.deps) {
      if (!d.stage || *d.stage < i) continue;
      const std::string& other = plan_.stages[*d.stage].display_name;
      std::string msg = d.via == StageDep::Via::kCopyFrom
                            ? "cannot copy from stage " + text::Quote(other) +
                                  ", it needs to be defined before current stage " +
                                  text::Quote(ps.display_name)
                            : "cannot mount from stage " + text::Quote(other) +
                                  ", stage needs to be defined before current command";
      return ErrorAt(src_, src_->LineStart(d.line), msg);
    }
    // Image names are checked for the stages a build needs (BuildKit
    // resolves only those), with the project's one reference parser.
    if (ps.base_kind == BaseKind::kImage) {
      Result<Reference> ref = Reference::Parse(ps.base);
      if (!ref.ok()) {
        return At(
            st.node, st.base_name,
            "failed to parse stage name " + text::Quote(ps.base) + ": " + ref.status().message());
      }
      ps.base_ref = ref->String();
    }
    for (StageDep& d : ps.deps) {
      if (d.stage) continue;
      Result<Reference> ref = Reference::Parse(d.image);
      if (!ref.ok()) {
        return ErrorAt(
            src_, src_->LineStart(d.line),
            "failed to parse stage name " + text::Quote(d.image) + ": " + ref.status().message());
      }
      d.image = ref->String();
    }
    if (ps.base_stage) {
      const PlannedStage& b = plan_.stages[*ps.base_stage];
      ps.env = b.env;
      ps.env_complete = b.env_complete;
      ps.platform = b.platform;
    } else if (ps.base_kind == BaseKind::kScratch) {
      ps.env.Set("PATH", kDefaultPathEnv);
      ps.env_complete = true;
    } else if (opt_.base_image_env) {
      if (std::optional<std::vector<std::string>> env = opt_.base_image_env(ps.base, ps.platform)) {
        ps.env = Env::FromList(*env);
        if (!ps.env.Get("PATH")) ps.env.Set("PATH", kDefaultPathEnv);
        ps.env_complete = true;
      }
    }
    HOIST_RETURN_IF_ERROR(Charge(ps.env.byte_size(), st.node));
    LexOptions lo;
    lo.skip_unset_env = !ps.env_complete;
    lo.pattern_budget = &pattern_budget_;
    ShellLex lex(df_.escape, lo);
    LexOptions raw_lo = lo;
    raw_lo.skip_process_quotes = true;
    ShellLex raw_lex('\\', raw_lo);

    StageFacts& facts = facts_[i];
    facts = StageFacts();
    if (ps.base_stage) {
      const StageFacts& base = facts_[*ps.base_stage];
      facts.workdir_set = base.workdir_set;
      facts.shell_set = base.shell_set;
      facts.args = base.args;
    }
    facts_now_ = &facts;
    std::vector<Command> commands = triggers_[i];
    commands.insert(commands.end(), st.commands.begin(), st.commands.end());
    for (Command& c : commands) {
      HOIST_RETURN_IF_ERROR(
          std::visit([&](auto& cmd) { return Expand(ps, lex, raw_lex, cmd); }, c));
    }
    ps.commands = std::move(commands);
    return Status::Ok();
  }

  // UndefinedVar: variables a word of `c` used that the stage has not set,
  // nor declared as ARGs. Only when the stage's whole environment is known
  // (a base image's is not, unless PlanOptions::base_image_env gives it).
  void CheckUndefined(const PlannedStage& ps, const CommandBase& c,
                      const std::set<std::string>& unmatched) {
    if (!ps.env_complete) return;
    for (const std::string& name : unmatched) {
      if (facts_now_->args.count(name) || IsNonEnvArg(name)) continue;
      Check(kUndefinedVar,
            "Usage of undefined variable '$" + name + "'" +
                DidYouMean("$", text::Suggest(name, Keys(ps.env), true)),
            c.node);
    }
  }

  // MultipleInstructionsDisallowed, at the earlier instruction (the one
  // that has no effect).
  void CheckUsedOnce(const CommandBase& c, std::optional<std::shared_ptr<const Node>>* seen) {
    if (*seen) {
      Check(kMultipleInstructionsDisallowed,
            "Multiple " + c.name +
                " instructions should not be used in the same stage because only the last one "
                "will be used",
            **seen);
    }
    *seen = c.node;
  }

  void CheckJsonArgs(const CommandBase& c, const CommandLine& cl) {
    if (!cl.prepend_shell || facts_now_->shell_set) return;
    Check(kJSONArgsRecommended,
          "JSON arguments recommended for " + c.name +
              " to prevent unintended behavior related to OS signals",
          c.node);
  }

  void CheckLegacyKeyValues(const CommandBase& c, const std::vector<KeyValue>& kvs) {
    for (const KeyValue& kv : kvs) {
      if (!kv.legacy) continue;
      Check(kLegacyKeyValueFormat,
            "\"" + c.name + " key=value\" should be used instead of legacy \"" + c.name +
                " key value\" format",
            c.node);
    }
  }

  void CheckSecretName(const char* instruction, const std::string& key, const CommandBase& c) {
    if (!LooksSecret(key)) return;
    Check(kSecretsUsedInArgOrEnv,
          std::string("Do not use ARG or ENV instructions for sensitive data (") + instruction +
              " " + text::Quote(key) + ")",
          c.node);
  }

  // CopyIgnoredFile, for a source in the build context. As BuildKit, not
  // when the ignore file has "!" exceptions (too hard to tell statically).
  void CheckIgnoredSource(const char* cmd, const std::string& src, const CommandBase& c) {
    const DockerIgnore* ignore = opt_.dockerignore;
    if (ignore == nullptr || ignore->empty() || ignore->has_exceptions()) return;
    std::string path = CleanPath(src);
    bool excluded;
    if (path == "." || path == "/") {
      // The context root is excluded only by patterns that exclude all of it.
      std::vector<std::string> patterns = ignore->patterns();
      excluded = std::any_of(patterns.begin(), patterns.end(), [](const std::string& p) {
        return p == "*" || p == "**" || p == "**/*";
      });
    } else {
      excluded = ignore->Excluded(path);
    }
    if (excluded) {
      Check(kCopyIgnoredFile,
            std::string("Attempting to ") + cmd + " file " + text::Quote(path) +
                " that is excluded by .dockerignore",
            c.node);
    }
  }

  // One word, expanded with the stage's variables.
  Status Word(const ShellLex& lex, const PlannedStage& ps, const CommandBase& c, std::string* word,
              bool* unresolved = nullptr) {
    Result<WordResult> r = lex.ProcessWordWithMatches(*word, ps.env);
    if (!r.ok()) return At(c.node, *word, r.status().message());
    CheckUndefined(ps, c, r->unmatched);
    if (unresolved != nullptr) *unresolved = !r->unmatched.empty();
    *word = std::move(r->word);
    return Charge(word->size(), c.node);
  }

  Status Charge(size_t bytes, const std::shared_ptr<const Node>& at) {
    plan_bytes_ += bytes;
    if (plan_bytes_ <= kMaxPlanBytes) return Status::Ok();
    return At(at, "",
              "the build carries more than " + std::to_string(kMaxPlanBytes >> 20) +
                  " MiB of variables and expanded words");
  }

  Status Files(const ShellLex& lex, const ShellLex& raw_lex, const PlannedStage& ps,
               const CommandBase& c, SourcesAndDest* f) {
    for (std::string& p : f->source_paths) HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &p));
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &f->dest));
    for (SourceContent& sc : f->source_contents) {
      if (sc.expand) HOIST_RETURN_IF_ERROR(Word(raw_lex, ps, c, &sc.data));
    }
    return Status::Ok();
  }

  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, ArgCommand& c) {
    for (ArgDef& a : c.args) {
      CheckSecretName("ARG", a.key, c);
      auto given = opt_.build_args.find(a.key);
      bool has_value = given != opt_.build_args.end();
      if (!a.value && !has_value) {
        if (std::optional<std::string_view> g = plan_.global_args.Get(a.key))
          a.value = std::string(*g);
      } else if (has_value) {
        a.value = given->second;
      } else {
        HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &*a.value));
      }
      if (a.value && a.key != "BUILDKIT_SBOM_SCAN_CONTEXT" && a.key != "BUILDKIT_SBOM_SCAN_STAGE") {
        ps.env.Set(a.key, *a.value);
      }
      declared_.insert(a.key);
      facts_now_->args.insert(a.key);
      ps.args.push_back(a);
    }
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, EnvCommand& c) {
    // Every pair is expanded with the variables as they were before this
    // ENV ("ENV a=1 b=$a" gives b the previous a), then all are set.
    for (KeyValue& kv : c.env) {
      HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &kv.key));
      HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &kv.value));
    }
    CheckLegacyKeyValues(c, c.env);
    for (const KeyValue& kv : c.env) {
      CheckSecretName("ENV", kv.key, c);
      ps.env.Set(kv.key, kv.value);
    }
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, LabelCommand& c) {
    for (KeyValue& kv : c.labels) {
      HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &kv.key));
      HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &kv.value));
    }
    CheckLegacyKeyValues(c, c.labels);
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex& raw, AddCommand& c) {
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.chown));
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.chmod));
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.checksum));
    HOIST_RETURN_IF_ERROR(Files(lex, raw, ps, c, &c.files));
    for (const std::string& src : c.files.source_paths) {
      bool remote = src.rfind("http://", 0) == 0 || src.rfind("https://", 0) == 0 ||
                    src.rfind("git@", 0) == 0 || src.find("://") != std::string::npos;
      if (!remote) CheckIgnoredSource("Add", src, c);
    }
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex& raw, CopyCommand& c) {
    if (auto named = from_names_.find(c.node.get()); named != from_names_.end()) {
      Check(kBuildahExtension,
            "COPY --from=" + c.from +
                " expands variables (a buildah/podman extension; BuildKit "
                "refuses it): it copies from " +
                text::Quote(named->second),
            c.node);
      c.from = named->second;
    }
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.chown));
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.chmod));
    HOIST_RETURN_IF_ERROR(Files(lex, raw, ps, c, &c.files));
    if (c.from.empty()) {
      for (const std::string& src : c.files.source_paths) CheckIgnoredSource("Copy", src, c);
    }
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, WorkdirCommand& c) {
    bool unresolved = false;
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.path, &unresolved));
    // Only the first WORKDIR of a stage (and its bases) can be relative to
    // a base image's working directory.
    if (!facts_now_->workdir_set && !unresolved && c.path.rfind('/', 0) != 0) {
      Check(kWorkdirRelativePath,
            "Relative workdir " + text::Quote(c.path) +
                " can have unexpected results if the base image changes",
            c.node);
    }
    facts_now_->workdir_set = true;
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, UserCommand& c) {
    return Word(lex, ps, c, &c.user);
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, VolumeCommand& c) {
    for (std::string& v : c.volumes) {
      HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &v));
      if (v.empty()) return At(c.node, "", "VOLUME specified can not be an empty string");
    }
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, StopSignalCommand& c) {
    std::string raw = c.signal;
    bool unresolved = false;
    HOIST_RETURN_IF_ERROR(Word(lex, ps, c, &c.signal, &unresolved));
    if (!unresolved) {
      Result<int> sig = ParseSignal(c.signal);
      if (!sig.ok()) return At(c.node, raw, sig.status().message());
    }
    return Status::Ok();
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, ExposeCommand& c) {
    std::vector<std::string> ports;
    bool unresolved = false;
    for (const std::string& p : c.ports) {
      Result<WordResult> probe = lex.ProcessWordWithMatches(p, ps.env);
      if (!probe.ok()) return At(c.node, p, probe.status().message());
      unresolved = unresolved || !probe->unmatched.empty();
      Result<std::vector<std::string>> words = lex.ProcessWords(p, ps.env);
      if (!words.ok()) return At(c.node, p, words.status().message());
      ports.insert(ports.end(), words->begin(), words->end());
    }
    if (!unresolved) {
      Result<std::vector<std::string>> parsed = ParseExposedPorts(ports);
      if (!parsed.ok()) return At(c.node, "", parsed.status().message());
      for (const std::string& p : ports) CheckExposedPort(p, c);
    }
    c.ports = std::move(ports);
    return Status::Ok();
  }
  // ExposeProtoCasing and ExposeInvalidFormat, on a port spec that parsed.
  void CheckExposedPort(const std::string& raw, const CommandBase& c) {
    std::string ip, host, container;
    SplitPortParts(raw, &ip, &host, &container);
    std::vector<std::string> port_proto = text::Split(container, '/');
    std::string proto = port_proto.size() > 1 ? port_proto[1] : "";
    if (proto != text::ToLower(proto)) {
      Check(kExposeProtoCasing,
            "Defined protocol '" + raw + "' in EXPOSE instruction should be lowercase", c.node);
    }
    if (!ip.empty() || !host.empty()) {
      Check(kExposeInvalidFormat,
            "EXPOSE instruction should not define an IP address or host-port mapping, found '" +
                raw + "'",
            c.node);
    }
  }
  Status Expand(PlannedStage& ps, const ShellLex& lex, const ShellLex&, RunCommand& c) {
    StageExpander ex(lex, ps.env);
    for (size_t k = 0; k < c.mount_specs.size(); ++k) {
      ex.reset();
      Result<Mount> m = ParseMount(c.mount_specs[k], &ex, opt_.dialect);
      CheckUndefined(ps, c, ex.unmatched());
      if (m.ok()) {
        for (const std::string& option : m->extensions) {
          Check(kBuildahExtension,
                "RUN --mount option '" + option + "' is a buildah/podman extension (" +
                    (option == "tmpcopyup" ? "the tmpfs starts with the target's contents"
                                           : "accepted and ignored: no SELinux labels or "
                                             "ownership changes here") +
                    ")",
                c.node);
        }
        c.mounts[k] = std::move(m).value();
      } else if (!ex.unresolved()) {
        return At(c.node, c.mount_specs[k], m.status().message());
      }
    }
    return Status::Ok();
  }
  // CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: not expanded
  // by the builder (the shell does it when the container runs); the first
  // four are checked.
  Status Expand(PlannedStage&, const ShellLex&, const ShellLex&, CmdCommand& c) {
    CheckUsedOnce(c, &facts_now_->cmd);
    CheckJsonArgs(c, c.cmdline);
    return Status::Ok();
  }
  Status Expand(PlannedStage&, const ShellLex&, const ShellLex&, EntrypointCommand& c) {
    CheckUsedOnce(c, &facts_now_->entrypoint);
    CheckJsonArgs(c, c.cmdline);
    return Status::Ok();
  }
  Status Expand(PlannedStage&, const ShellLex&, const ShellLex&, HealthcheckCommand& c) {
    CheckUsedOnce(c, &facts_now_->healthcheck);
    return Status::Ok();
  }
  Status Expand(PlannedStage&, const ShellLex&, const ShellLex&, ShellCommand&) {
    facts_now_->shell_set = true;
    return Status::Ok();
  }
  template <class T>
  Status Expand(PlannedStage&, const ShellLex&, const ShellLex&, T&) {
    return Status::Ok();
  }

  const Dockerfile& df_;
  const PlanOptions& opt_;
  const Source* src_;
  ShellLex lex_;
  StageGraph graph_;
  BuildPlan plan_;
  std::map<std::string, size_t> by_name_;            // every named stage (later wins)
  std::map<size_t, std::vector<Command>> triggers_;  // ONBUILD triggers per stage
  std::map<const Node*, std::string> from_names_;    // COPY --from=$ARG expanded (kBuildah)
  std::set<std::string> declared_;                   // ARG names in scope of the build
  std::set<std::string> automatic_;
  size_t plan_bytes_ = 0;
  std::vector<Warning> checks_;               // build checks, before the configuration
  std::map<size_t, StageFacts> facts_;        // per dispatched stage
  StageFacts* facts_now_ = nullptr;           // the stage being dispatched
  size_t pattern_budget_ = size_t{64} << 20;  // pattern-matching steps for the whole plan
};

Result<std::pair<int, int>> ParsePortRange(const std::string& ports) {
  if (ports.empty()) return Status(Code::kInvalidArgument, "empty string specified for ports");
  size_t dash = ports.find('-');
  std::string start = ports.substr(0, dash);
  std::string end = dash == std::string::npos ? "" : ports.substr(dash + 1);
  auto number = [](const std::string& s) -> std::optional<int> {
    std::optional<int64_t> v = GoAtoi(s);
    if (!v || *v < 0 || *v > 65535) return std::nullopt;
    return static_cast<int>(*v);
  };
  std::optional<int> a = number(start);
  if (!a) return Status(Code::kInvalidArgument, "invalid start port '" + start + "'");
  if (dash == std::string::npos || start == end) return std::make_pair(*a, *a);
  std::optional<int> b = number(end);
  if (!b) return Status(Code::kInvalidArgument, "invalid end port '" + end + "'");
  if (*b < *a) return Status(Code::kInvalidArgument, "invalid port range: " + ports);
  return std::make_pair(*a, *b);
}

}  // namespace

Result<std::vector<std::string>> ParseExposedPorts(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const std::string& raw : specs) {
    std::string ip, host, container;
    SplitPortParts(raw, &ip, &host, &container);
    size_t slash = container.find('/');
    std::string port = container.substr(0, slash);
    std::string proto = slash == std::string::npos ? "" : container.substr(slash + 1);
    std::string lower = text::ToLower(proto);
    if (port.empty())
      return Status(Code::kInvalidArgument,
                    "invalid port: " + text::Quote(raw) + ": no port specified");
    if (lower.empty()) {
      proto = "tcp";
    } else if (lower != "tcp" && lower != "udp" && lower != "sctp") {
      return Status(Code::kInvalidArgument,
                    "invalid port: " + text::Quote(raw) + ": invalid proto: " + proto);
    }
    if (!ip.empty() && ip[0] == '[') {
      if (ip.back() != ']') return Status(Code::kInvalidArgument, "invalid IP address " + ip);
      ip = ip.substr(1, ip.size() - 2);
    }
    if (!ip.empty()) {
      unsigned char buf[16];
      if (inet_pton(AF_INET, ip.c_str(), buf) != 1 && inet_pton(AF_INET6, ip.c_str(), buf) != 1) {
        return Status(Code::kInvalidArgument, "invalid IP address: " + ip);
      }
    }
    Result<std::pair<int, int>> range = ParsePortRange(port);
    if (!range.ok()) return Status(Code::kInvalidArgument, "invalid containerPort: " + port);
    if (!host.empty()) {
      Result<std::pair<int, int>> h = ParsePortRange(host);
      if (!h.ok()) return Status(Code::kInvalidArgument, "invalid hostPort: " + host);
      if (range->second - range->first != h->second - h->first && range->second != range->first) {
        return Status(
            Code::kInvalidArgument,
            "invalid ranges specified for container and host Ports: " + port + " and " + host);
      }
    }
    for (int p = range->first; p <= range->second; ++p)
      out.push_back(std::to_string(p) + "/" + text::ToLower(proto));
  }
  return out;
}

Result<BuildPlan> PlanBuild(const Dockerfile& df, const PlanOptions& options) {
  return Planner(df, options).Run();
}

Result<CheckConfig> ResolveCheckConfig(const Source* source,
                                       const std::vector<Directive>& directives,
                                       const std::map<std::string, std::string>& build_args) {
  auto arg = build_args.find(kCheckBuildArg);
  if (arg != build_args.end()) {
    Result<CheckConfig> config = ParseCheckOptions(arg->second);
    if (!config.ok()) {
      return ErrorAt(
          source, {},
          std::string("failed to parse ") + kCheckBuildArg + ": " + config.status().message());
    }
    return config;
  }
  for (const Directive& d : directives) {
    if (d.name != "check") continue;
    Result<CheckConfig> config = ParseCheckOptions(CheckDirectiveValue(d.value));
    if (!config.ok()) {
      Position at = source != nullptr ? source->LineStart(d.line) : Position{d.line, 1};
      return ErrorAt(source, at, "failed to parse check options: " + config.status().message());
    }
    return config;
  }
  return CheckConfig();
}

Result<std::vector<Warning>> ApplyCheckConfig(
    const CheckConfig& config, const Source* source, std::vector<Warning> warnings,
    const std::map<int, std::vector<std::string>>& comments_at) {
  // Checks BuildKit runs with the file's configuration only.
  static const std::set<std::string_view> kFileWide = {
      kNoEmptyContinuation.name, kConsistentInstructionCasing.name, kDuplicateStageName.name,
      kReservedStageName.name, kInvalidDefaultArgInFrom.name};
  std::vector<Warning> checks, plain;
  std::set<std::tuple<std::string, int, std::string>> seen;
  for (Warning& w : warnings) {
    if (w.rule.empty()) {
      plain.push_back(std::move(w));
      continue;
    }
    CheckConfig here = config;
    auto comments = comments_at.find(w.position.line);
    if (comments != comments_at.end() && !kFileWide.count(w.rule)) {
      if (std::optional<CheckConfig> more = CheckConfigFromComments(comments->second)) {
        here = config.MergedWith(*more);
      }
    }
    if (!here.Reports(w.rule) || !seen.emplace(w.rule, w.position.line, w.message).second) continue;
    checks.push_back(std::move(w));
  }
  std::stable_sort(checks.begin(), checks.end(), [](const Warning& a, const Warning& b) {
    return a.position.line < b.position.line;
  });
  if (config.error && !checks.empty()) {
    std::vector<std::string> rules;
    for (const Warning& w : checks) {
      if (std::find(rules.begin(), rules.end(), w.rule) == rules.end()) rules.push_back(w.rule);
    }
    std::string summary = "lint violation found for rules: ";
    for (size_t i = 0; i < rules.size(); ++i) summary += (i ? ", " : "") + rules[i];
    std::string message = (source != nullptr ? source->name() + ": " : "") + summary;
    for (const Warning& w : checks) message += "\n" + FormatWarning(source, w);
    nlohmann::json detail = {{"message", summary}, {"warnings", WarningsToJson(checks)}};
    if (source != nullptr) detail["file"] = source->name();
    return Status(Code::kInvalidArgument, message,
                  detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  checks.insert(checks.end(), std::make_move_iterator(plain.begin()),
                std::make_move_iterator(plain.end()));
  return checks;
}

}  // namespace hoist::dockerfile
