#include "builder/dockerfile/cli_commands.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "builder/dockerfile/dockerignore.h"
#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/plan.h"
#include "builder/dockerfile/report.h"

namespace hoist::dockerfile {
namespace {

bool ReadInput(const std::string& path, std::string* out) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    *out = ss.str();
    return !std::cin.bad();
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

void PrintWarnings(const Source* source, const std::vector<Warning>& warnings) {
  for (const Warning& w : warnings) std::fprintf(stderr, "%s\n", FormatWarning(source, w).c_str());
}

int Invalid(const Status& st) {
  std::fprintf(stderr, "%s\n", st.message().c_str());
  return kExitInvalid;
}

std::string Summary(const Dockerfile& df, const BuildPlan& plan) {
  size_t instructions = df.meta_args.size();
  for (const Stage& s : df.stages) instructions += 1 + s.commands.size();
  std::string out = df.source->name() + ": valid, " + std::to_string(instructions) +
                    " instruction(s), " + std::to_string(df.stages.size()) + " stage(s)\n";
  for (const PlannedStage& s : plan.stages) {
    out += "  [" + std::to_string(s.index) + "] " + s.display_name + ": " + FormatStageHeader(s);
    out += s.needed ? (s.index == plan.target ? "  (target)" : "") : "  (not needed by the target)";
    out += "\n";
  }
  return out;
}

}  // namespace

// --build-arg K=V; a bare K takes its value from the environment (and is
// dropped when unset), as `docker build` does.
std::optional<std::map<std::string, std::string>> ParseBuildArgs(
    const std::vector<std::string>& raw, const char* cmd) {
  std::map<std::string, std::string> out;
  for (const std::string& a : raw) {
    size_t eq = a.find('=');
    std::string key = a.substr(0, eq);
    if (key.empty()) {
      std::fprintf(stderr, "%s: invalid --build-arg %s: want KEY=VALUE\n", cmd, a.c_str());
      return std::nullopt;
    }
    if (eq != std::string::npos) {
      out[key] = a.substr(eq + 1);
    } else if (const char* v = std::getenv(key.c_str())) {
      out[key] = v;
    }
  }
  return out;
}

// --platform: "" (the build platform) or a comma-separated list.
std::optional<std::vector<std::optional<Platform>>> ParsePlatformList(const std::string& raw,
                                                                      const char* cmd) {
  std::vector<std::optional<Platform>> out;
  if (raw.empty()) {
    out.emplace_back();
    return out;
  }
  Result<std::vector<Platform>> list = ParsePlatforms(raw);
  if (!list.ok()) {
    std::fprintf(stderr, "%s: invalid --platform: %s\n", cmd, list.status().message().c_str());
    return std::nullopt;
  }
  out.assign(list->begin(), list->end());
  return out;
}

int RunDockerfileParse(const ParseCommandOptions& o) {
  const char* cmd = "hoist dockerfile parse";
  std::string text;
  if (!ReadInput(o.file, &text)) {
    std::fprintf(stderr, "%s: cannot read %s\n", cmd, o.file.c_str());
    return kExitUsage;
  }
  std::optional<std::map<std::string, std::string>> args = ParseBuildArgs(o.build_args, cmd);
  if (!args) return kExitUsage;
  std::optional<std::vector<std::optional<Platform>>> platforms =
      ParsePlatformList(o.platform, cmd);
  if (!platforms) return kExitUsage;
  if (platforms->size() != 1) {
    std::fprintf(stderr, "%s: --platform takes one platform here\n", cmd);
    return kExitUsage;
  }

  auto source = std::make_shared<const Source>(o.file == "-" ? "<stdin>" : o.file, std::move(text));
  Result<Ast> ast = Parse(source);
  if (!ast.ok()) return Invalid(ast.status());
  if (o.dump) {
    // The dump is the parser's view (BuildKit's dumper): it is printed for
    // any file the parser accepts; so are the parser's checks.
    std::fputs(ast->Dump().c_str(), stdout);
    Result<CheckConfig> config = ResolveCheckConfig(source.get(), ast->directives, *args);
    if (!config.ok()) return Invalid(config.status());
    Result<std::vector<Warning>> warnings = ApplyCheckConfig(*config, source.get(), ast->warnings);
    if (!warnings.ok()) return Invalid(warnings.status());
    PrintWarnings(source.get(), *warnings);
    return kExitOk;
  }
  Result<Dockerfile> df = ParseInstructions(*ast);
  if (!df.ok()) return Invalid(df.status());
  if (df->stages.empty()) {
    return Invalid(
        ErrorAt(source.get(), source->LineStart(1), "dockerfile contains no stages to build"));
  }
  PlanOptions po;
  po.build_args = *args;
  po.target = o.target;
  po.target_platform = (*platforms)[0];
  po.check_all_stages = o.target.empty();  // as BuildKit's --check
  if (o.strict) po.dialect = Dialect::kBuildKit;
  Result<BuildPlan> plan = PlanBuild(*df, po);
  if (!plan.ok()) return Invalid(plan.status());

  if (o.json) {
    nlohmann::json j = DockerfileToJson(*df);
    nlohmann::json directives = nlohmann::json::array();
    for (const Directive& d : ast->directives) {
      directives.push_back({{"name", d.name}, {"value", d.value}, {"line", d.line}});
    }
    j["directives"] = directives;
    j["warnings"] = WarningsToJson(plan->warnings);
    j["plan"] = PlanToJson(*plan);
    std::string out = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", out.c_str());
  } else {
    std::fputs(Summary(*df, *plan).c_str(), stdout);
  }
  PrintWarnings(source.get(), plan->warnings);
  return kExitOk;
}

int RunBuild(const BuildCommandOptions& o) {
  const char* cmd = "hoist build";
  if (!o.print_plan) {
    std::fprintf(stderr, "hoist build: only --print-plan is implemented yet\n");
    return kExitUsage;
  }
  struct stat st;
  if (::stat(o.context.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "%s: context %s is not a directory\n", cmd, o.context.c_str());
    return kExitUsage;
  }
  std::string file = o.file.empty() ? o.context + "/Dockerfile" : o.file;
  std::string text;
  if (!ReadInput(file, &text)) {
    std::fprintf(stderr, "%s: cannot read Dockerfile %s\n", cmd, file.c_str());
    return kExitUsage;
  }
  std::optional<std::map<std::string, std::string>> args = ParseBuildArgs(o.build_args, cmd);
  if (!args) return kExitUsage;
  std::optional<std::vector<std::optional<Platform>>> platforms =
      ParsePlatformList(o.platform, cmd);
  if (!platforms) return kExitUsage;

  auto source = std::make_shared<const Source>(file, std::move(text));
  Result<Dockerfile> df = ParseDockerfile(source);
  if (!df.ok()) return Invalid(df.status());
  std::string ignore_file;
  Result<DockerIgnore> ignore = LoadDockerIgnore(o.context, file == "-" ? "" : file, &ignore_file);
  if (!ignore.ok()) return Invalid(ignore.status());

  nlohmann::json plans = nlohmann::json::array();
  std::string text_out =
      "dockerfile: " + file + "\ncontext: " + o.context + " (.dockerignore: " +
      (ignore_file.empty()
           ? "none"
           : ignore_file + ", " + std::to_string(ignore->patterns().size()) + " pattern(s)") +
      ")\n";
  std::vector<Warning> warnings;
  for (const std::optional<Platform>& p : *platforms) {
    PlanOptions po;
    po.build_args = *args;
    po.target = o.target;
    po.target_platform = p;
    po.dockerignore = &*ignore;
    if (o.strict) po.dialect = Dialect::kBuildKit;
    Result<BuildPlan> plan = PlanBuild(*df, po);
    if (!plan.ok()) return Invalid(plan.status());
    if (o.json) {
      plans.push_back(PlanToJson(*plan));
    } else {
      if (platforms->size() > 1)
        text_out += "\n== platform " + plan->target_platform.Format() + "\n";
      text_out += PlanToText(*plan);
    }
    if (warnings.empty()) warnings = plan->warnings;
  }
  if (o.json) {
    nlohmann::json j = {{"dockerfile", file},
                        {"context", o.context},
                        {"dockerignore", ignore_file},
                        {"dockerignore_patterns", ignore->patterns()},
                        {"plans", plans}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    std::fputs(text_out.c_str(), stdout);
  }
  PrintWarnings(source.get(), warnings);
  return kExitOk;
}

}  // namespace hoist::dockerfile
