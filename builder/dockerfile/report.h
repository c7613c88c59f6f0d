// Human and machine renderings of what the frontend understood: an
// instruction as one Dockerfile-like line, a parsed Dockerfile and a build
// plan as JSON, and a build plan as text (what `hoist build --print-plan`
// prints). Pure functions; safe for concurrent use.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/plan.h"

namespace hoist::dockerfile {

// One line in Dockerfile syntax for a (possibly expanded) instruction,
// e.g. `COPY --from=build /out /bin` or `RUN ["sh", "-c", "make"]`.
std::string FormatCommand(const Command& c);
std::string FormatStageHeader(const PlannedStage& s);

nlohmann::json CommandToJson(const Command& c);
nlohmann::json DockerfileToJson(const Dockerfile& df);
nlohmann::json PlanToJson(const BuildPlan& plan);
// [{"rule", "line", "message"}]: "rule" only for checks, "line" only when known.
nlohmann::json WarningsToJson(const std::vector<Warning>& warnings);

// The plan as text: target and platforms, the waves of needed stages
// (stages of one wave may build in parallel), each needed stage with its
// base, dependencies and expanded instructions, and the pruned stages.
std::string PlanToText(const BuildPlan& plan);

}  // namespace hoist::dockerfile
