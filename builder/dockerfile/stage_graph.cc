#include "builder/dockerfile/stage_graph.h"

#include <algorithm>
#include <map>

namespace hoist::dockerfile {

void StageGraph::AddDep(size_t stage, size_t dep) {
  std::vector<size_t>& d = deps_[stage];
  if (std::find(d.begin(), d.end(), dep) == d.end()) d.push_back(dep);
}

std::vector<size_t> StageGraph::FindCycle() const {
  // Iterative depth-first search with an explicit path (no recursion, so a
  // pathological Dockerfile cannot exhaust the stack).
  enum class Mark { kNew, kOnPath, kDone };
  std::vector<Mark> mark(size(), Mark::kNew);
  for (size_t root = 0; root < size(); ++root) {
    if (mark[root] != Mark::kNew) continue;
    std::vector<std::pair<size_t, size_t>> stack{{root, 0}};  // (stage, next dep index)
    mark[root] = Mark::kOnPath;
    while (!stack.empty()) {
      auto& [s, next] = stack.back();
      if (next == deps_[s].size()) {
        mark[s] = Mark::kDone;
        stack.pop_back();
        continue;
      }
      size_t d = deps_[s][next++];
      if (mark[d] == Mark::kOnPath) {
        std::vector<size_t> cycle;
        auto it =
            std::find_if(stack.begin(), stack.end(), [d](const auto& e) { return e.first == d; });
        for (; it != stack.end(); ++it) cycle.push_back(it->first);
        cycle.push_back(d);
        return cycle;
      }
      if (mark[d] == Mark::kNew) {
        mark[d] = Mark::kOnPath;
        stack.emplace_back(d, 0);
      }
    }
  }
  return {};
}

std::vector<size_t> StageGraph::Needed(size_t target) const {
  std::vector<bool> seen(size(), false);
  std::vector<size_t> todo{target};
  seen[target] = true;
  while (!todo.empty()) {
    size_t s = todo.back();
    todo.pop_back();
    auto visit = [&](size_t n) {
      if (!seen[n]) {
        seen[n] = true;
        todo.push_back(n);
      }
    };
    if (base_[s]) visit(*base_[s]);
    for (size_t d : deps_[s]) visit(d);
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < size(); ++i) {
    if (seen[i]) out.push_back(i);
  }
  return out;
}

std::vector<std::vector<size_t>> StageGraph::Waves(const std::vector<size_t>& stages) const {
  std::map<size_t, size_t> wave;  // stage -> wave, for members of `stages`
  for (size_t s : stages) wave[s] = 0;
  // Longest-path layering; repeat until stable (at most |stages| rounds,
  // and one round when every edge points to an earlier stage).
  for (size_t round = 0; round <= stages.size(); ++round) {
    bool changed = false;
    for (size_t s : stages) {
      size_t w = 0;
      auto consider = [&](size_t n) {
        auto it = wave.find(n);
        if (it != wave.end() && n != s) w = std::max(w, it->second + 1);
      };
      if (base_[s]) consider(*base_[s]);
      for (size_t d : deps_[s]) consider(d);
      if (w != wave[s]) {
        wave[s] = w;
        changed = true;
      }
    }
    if (!changed) break;
  }
  std::vector<std::vector<size_t>> out;
  for (size_t s : stages) {
    size_t w = wave[s];
    if (out.size() <= w) out.resize(w + 1);
    out[w].push_back(s);
  }
  return out;
}

}  // namespace hoist::dockerfile
