// Runs the image jobs of `hoist up`: at most `parallel` at once, each only
// after the jobs it depends on succeeded (depends_on in the file), in file
// order among those that are ready. A job whose dependency failed does not
// run; it fails too, without stopping any job that does not need it.
#pragma once

#include <functional>
#include <vector>

namespace hoist::up {

// Runs jobs 0..n-1 (n = deps.size()) on min(parallel, n) threads. run(i)
// returns true on success; skipped(i, d) is called instead of run(i) when
// dependency d of job i failed (or was skipped). Returns each job's
// success. run and skipped are called from the worker threads, one call per
// job. REQUIRES: parallel >= 1; deps holds valid indices and no cycle.
std::vector<bool> RunScheduled(const std::vector<std::vector<int>>& deps, int parallel,
                               const std::function<bool(int)>& run,
                               const std::function<void(int job, int failed_dep)>& skipped);

}  // namespace hoist::up
