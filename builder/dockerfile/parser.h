// The Dockerfile parser: text -> Ast, with the rules of BuildKit's
// frontend/dockerfile/parser, so that every file BuildKit accepts parses to
// the same tree (and dumps to the same `result`), and every file it rejects
// is rejected:
//   - parser directives (# syntax=, # escape=, # check=) at the head only
//     (the value of `# check=` is read by ParseCheckOptions);
//   - comments; line continuations with the escape character, including
//     blank and comment lines inside a continuation (blank ones warn);
//   - flags (--name=value) before the arguments, quotes removed;
//   - per-instruction argument rules (JSON exec form, key=value pairs, ...);
//   - heredocs for RUN, COPY and ADD (and ONBUILD of those), several per line;
//   - physical lines longer than 65535 bytes are rejected, as BuildKit does.
// Unknown instructions parse (BuildKit rejects them one layer up; so does
// instructions.h).
//
// No I/O: the caller reads the file. Safe for concurrent use.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/dockerfile/ast.h"
#include "builder/dockerfile/checks.h"
#include "common/status.h"

namespace hoist::dockerfile {

// Parses `source`. Errors are kInvalidArgument, formatted as
// "FILE:LINE:COL: message" with the line quoted (see source.h).
Result<Ast> Parse(SourcePtr source);
// Convenience: parses `text` named `name` in messages.
Result<Ast> ParseText(std::string_view text, std::string name = "Dockerfile");

// A heredoc operator word ("<<EOF", "<<-'EOF'", "3<<EOF"): its heredoc
// (content empty), nullopt when the word is not one, or an error for a
// malformed one ("<<'EOF"). Used for COPY/ADD sources and RUN commands.
Result<std::optional<Heredoc>> ParseHeredocWord(std::string_view word);

// The content of a <<- heredoc with leading tabs removed from every line.
std::string ChompHeredocContent(std::string_view content);

// A build-check configuration (BuildKit's linter.ParseLintOptions), as
// the `# check=` directive and the BUILDKIT_DOCKERFILE_CHECK build arg
// write it: up to three `;`-separated options, `skip=all` or
// `skip=Rule1,Rule2`, `experimental=all` or `experimental=Rule,...`,
// `error=<Go boolean>`; "" is the default configuration. Unknown rule
// names are kept (and never match). Errors (kInvalidArgument, no
// position): `invalid check option "x"`, a bad boolean.
Result<CheckConfig> ParseCheckOptions(std::string_view value);

// The `# check=` comment among the comment lines directly above an
// instruction (Node::comments), parsed; nullopt when there is none or it
// is malformed (BuildKit ignores it then).
std::optional<CheckConfig> CheckConfigFromComments(const std::vector<std::string>& comments);

// The value BuildKit reads from a `# check=` directive: up to the first space.
std::string_view CheckDirectiveValue(std::string_view directive_value);

}  // namespace hoist::dockerfile
