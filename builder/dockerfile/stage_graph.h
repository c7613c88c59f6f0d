// The dependency graph between the stages of one Dockerfile: a stage
// needs its base stage (FROM <stage>) and the stages it copies or mounts
// from (COPY --from, RUN --mount from=). Answers what a target needs, which
// needed stages are independent of each other (and so can be built in
// parallel), and whether the copy/mount dependencies form a cycle.
//
// Not safe for concurrent mutation; const methods may run concurrently.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace hoist::dockerfile {

class StageGraph {
 public:
  explicit StageGraph(size_t stages) : base_(stages), deps_(stages) {}

  size_t size() const { return base_.size(); }
  // REQUIRES: both indexes < size().
  void SetBase(size_t stage, size_t base) { base_[stage] = base; }
  void AddDep(size_t stage, size_t dep);

  const std::optional<size_t>& base(size_t stage) const { return base_[stage]; }
  const std::vector<size_t>& deps(size_t stage) const { return deps_[stage]; }

  // A cycle through dependency edges, as BuildKit checks it (COPY/mount
  // edges only; a base is always an earlier stage): the stages along it,
  // first repeated at the end ({a, b, a}), or empty when there is none.
  std::vector<size_t> FindCycle() const;

  // The stages `target` needs, itself included (its bases and dependencies,
  // transitively), in file order.
  std::vector<size_t> Needed(size_t target) const;

  // `stages` grouped into waves: a stage's wave is one more than the
  // latest wave among its base and dependencies inside `stages`; stages of
  // one wave never depend on each other. REQUIRES: no cycle among `stages`.
  std::vector<std::vector<size_t>> Waves(const std::vector<size_t>& stages) const;

 private:
  std::vector<std::optional<size_t>> base_;
  std::vector<std::vector<size_t>> deps_;
};

}  // namespace hoist::dockerfile
