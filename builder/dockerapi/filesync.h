// The receiving end of BuildKit's file sync (fsutil's DiffCopy), the way
// dockerd's BuildKit fetches a build context from the docker CLI over a
// session (session.h):
//
//   - the engine calls /moby.filesync.v1.FileSync/DiffCopy with gRPC
//     metadata naming the directory ("dir-name": "context" or
//     "dockerfile") and filters ("exclude-patterns": .dockerignore's
//     patterns, "followpaths": names to send alone), one header per value;
//   - the CLI walks the directory and sends one STAT packet per entry (the
//     ID of an entry is its index in the walk), then an empty STAT;
//   - for each regular file whose size, modification time or mode differs
//     from the mirror's copy (context_sync.h's rule, fsutil's too), the
//     engine sends REQ with its ID; the CLI answers DATA packets, an empty
//     one ending the file (up to four files interleave);
//   - once every file asked for is in, the engine sends FIN, the CLI
//     answers FIN and ends the call.
// So a rebuild moves only what changed, plus one STAT per entry.
#pragma once

#include <string>
#include <vector>

#include "builder/dockerapi/context_sync.h"
#include "builder/dockerapi/session.h"
#include "common/status.h"

namespace hoist::dockerapi {

struct DiffCopyRequest {
  std::string dir_name;                       // "context" or "dockerfile"
  std::vector<std::string> followpaths;       // empty: everything
  std::vector<std::string> exclude_patterns;  // .dockerignore syntax
};

// Makes `dir` (created when missing) hold what the session's directory
// holds, as SyncTarToDir does for a tar. An error from the CLI's side
// (a walk that failed, a directory it does not serve) is kInvalidArgument
// with its message; a broken session is kUnavailable.
Result<SyncResult> DiffCopyToDir(Session& session, const DiffCopyRequest& req,
                                 const std::string& dir);

}  // namespace hoist::dockerapi
