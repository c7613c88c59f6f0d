#include "builder/up/cli_commands.h"

#include <algorithm>

#include "builder/transfer/cli_commands.h"
#include "builder/up/up.h"

namespace hoist::up {

CliCommands::CliCommands(CLI::App& app) : app_(app) {
  up_ = app.add_subcommand(
      "up", "Start the registry a hoist.yaml declares and build/import/push its images");
  down_ = app.add_subcommand("down", "Stop the registry `hoist up` started (images are kept)");
  status_ = app.add_subcommand("status", "Show the registry and each image's state");
  env_ = app.add_subcommand("env", "Print REGISTRY=host:port of the running registry");
  for (CLI::App* c : {up_, down_, status_, env_}) {
    c->add_option("-f,--file", file_, "The hoist up file")->capture_default_str();
  }
  up_->add_flag("-d,--detach", detach_,
                "Return once every image is pushed; leave the registry running");
  for (CLI::App* c : {up_, down_, status_}) {
    c->add_flag("--json", json_,
                c == status_ ? "Print the state as JSON" : "Print events as JSON lines");
  }
}

bool CliCommands::Owns(int argc, char** argv) const {
  const CLI::App* mine[] = {up_, down_, status_, env_};
  return argc >= 2 && std::any_of(std::begin(mine), std::end(mine),
                                  [&](const CLI::App* c) { return c->get_name() == argv[1]; });
}

int CliCommands::Run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? transfer::kExitOk : transfer::kExitUsage;
  }
  if (*up_) {
    UpOptions o;
    o.file = file_;
    o.detach = detach_;
    o.json = json_;
    return RunUp(o);
  }
  if (*down_) return RunDown(file_, json_);
  if (*status_) return RunStatus(file_, json_);
  if (*env_) return RunEnv(file_);
  return transfer::kExitUsage;
}

}  // namespace hoist::up
