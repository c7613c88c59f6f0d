// libFuzzer target for the Dockerfile frontend: every entry point that
// reads untrusted text (parser, instructions, planner with expansion,
// dump/JSON/text rendering, the shell-word expander, .dockerignore, the
// exec-form JSON reader, flag value parsers) must return an error value,
// never crash, hang or trip a sanitizer. Built and run by fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "builder/dockerfile/dockerignore.h"
#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/json_array.h"
#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/plan.h"
#include "builder/dockerfile/platform.h"
#include "builder/dockerfile/report.h"
#include "builder/dockerfile/shell_lex.h"

namespace df = hoist::dockerfile;

namespace {

std::vector<std::string_view> Lines(std::string_view s, size_t max) {
  std::vector<std::string_view> out;
  while (!s.empty() && out.size() < max) {
    size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

void Pipeline(std::string_view in) {
  auto source = std::make_shared<const df::Source>("fuzz/Dockerfile", std::string(in));
  hoist::Result<df::Ast> ast = df::Parse(source);
  if (!ast.ok()) return;
  (void)ast->Dump();
  hoist::Result<df::Dockerfile> file = df::ParseInstructions(*ast);
  if (!file.ok() || file->stages.empty()) return;
  (void)df::DockerfileToJson(*file).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  df::PlanOptions opt;
  opt.build_args = {{"A", "1"}, {"VERSION", "2"}, {"HTTP_PROXY", "http://p"}};
  if (file->stages.size() > 1 && !file->stages[0].name.empty()) opt.target = file->stages[0].name;
  hoist::Result<df::BuildPlan> plan = df::PlanBuild(*file, opt);
  if (!plan.ok()) return;
  (void)df::PlanToText(*plan);
  (void)df::PlanToJson(*plan).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Words(std::string_view in) {
  df::Env env = df::Env::FromList({"PWD=/home", "SHELL=bash", "NULL=", "X=a b  c"});
  df::LexOptions raw;
  raw.raw_quotes = raw.raw_escapes = raw.skip_unset_env = true;
  df::LexOptions noquotes;
  noquotes.skip_process_quotes = true;
  const df::ShellLex lexers[] = {df::ShellLex('\\'), df::ShellLex('`'), df::ShellLex('\\', raw),
                                 df::ShellLex('\\', noquotes)};
  for (std::string_view line : Lines(in, 16)) {
    for (const df::ShellLex& lex : lexers) {
      (void)lex.ProcessWord(line, env);
      (void)lex.ProcessWords(line, env);
    }
    std::vector<std::string> strings;
    (void)df::ParseJsonStringArray(line, &strings);
    (void)df::ParseHeredocWord(line);
    (void)df::ParsePlatform(line);
    (void)df::ParseDuration(line);
    (void)df::ParseRamBytes(line);
    (void)df::ParseSignal(line);
    (void)df::ParseDevice(line);
    (void)df::ParseMount(line, nullptr);
    (void)df::ParseExposedPorts({std::string(line)});
  }
}

void Ignore(std::string_view in) {
  hoist::Result<df::DockerIgnore> ignore = df::DockerIgnore::Parse(in);
  if (!ignore.ok()) return;
  df::DockerIgnore::MatchInfo parent, info;
  for (std::string_view line : Lines(in, 8)) {
    std::string path = df::CleanPath(line);
    (void)ignore->Excluded(path);
    (void)ignore->ExcludedUsingParent(path, parent, &info);
    (void)ignore->CanSkipExcludedDir(path);
    parent = info;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Pipeline(in);
  Words(in);
  Ignore(in);
  return 0;
}
