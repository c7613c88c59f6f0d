// The Dockerfile parser: text -> Ast, with the rules of BuildKit's
// frontend/dockerfile/parser, so that every file BuildKit accepts parses to
// the same tree (and dumps to the same `result`), and every file it rejects
// is rejected:
//   - parser directives (# syntax=, # escape=, # check=) at the head only;
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

#include "builder/dockerfile/ast.h"
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

}  // namespace hoist::dockerfile
