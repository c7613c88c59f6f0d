// The syntax tree of a Dockerfile: one Node per instruction, holding its
// words as BuildKit's parser splits them (before variable expansion and
// before any check of the instruction's meaning; see instructions.h).
//
// Dump() prints BuildKit's `result` format, e.g.
//     (from "ubuntu:14.04")
//     (copy ["--from=build"] "a" "b")
//     (onbuild (run "echo" "test"))
//
// Plain values: copyable, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "builder/dockerfile/source.h"

namespace hoist::dockerfile {

// A here-document attached to RUN, COPY or ADD (`<<EOF`, `<<-EOF`, `3<<'EOF'`).
struct Heredoc {
  std::string name;     // the delimiter word, quotes removed
  uint64_t fd = 0;      // the optional file-descriptor prefix (RUN 3<<EOF)
  bool expand = true;   // false when any part of the delimiter was quoted
  bool chomp = false;   // <<- : leading tabs are stripped from content lines
  std::string content;  // the body, each line with its line ending, no terminator

  bool operator==(const Heredoc&) const = default;
};

// Where a run of bytes of a logical line came from (lines joined by the
// escape character are one logical line).
struct LineSegment {
  size_t offset;  // first byte in the logical line
  int line;       // 1-based physical line
  int column;     // 1-based rune column of `offset` in that line
};

struct Node {
  std::string value;               // the instruction keyword as written ("RUN", "copy")
  std::vector<std::string> flags;  // "--name=value" words before the arguments
  std::vector<std::string> args;   // the arguments as the instruction's rule split them
  std::vector<Node> trigger;       // ONBUILD: the instruction it wraps (0 or 1)
  bool json = false;               // the arguments were a JSON array (exec form)
  std::vector<Heredoc> heredocs;
  std::string original;               // the logical line, continuations joined
  int start_line = 0;                 // 1-based, first physical line
  int end_line = 0;                   // last physical line (including heredoc bodies)
  std::vector<std::string> comments;  // comment lines directly above
  std::vector<LineSegment> segments;  // maps `original` back to the source

  // Source position of byte `offset` of `original` (clamped to its end).
  Position PositionOf(size_t offset) const;
  // Position of the first occurrence of `needle` in `original`, or of the
  // instruction keyword when absent.
  Position PositionOfText(std::string_view needle) const;
  // The keyword lower-cased as Go's strings.ToLower does.
  std::string Keyword() const;
  // BuildKit's dump of this node, without the enclosing parentheses.
  std::string Dump() const;
};

// A parser directive (`# syntax=`, `# escape=`, `# check=`) from the head of the file.
struct Directive {
  std::string name;  // lower-cased
  std::string value;
  int line = 0;
};

// Something a build reports without failing: a build check (see
// checks.h), or a plain warning such as unused build args.
struct Warning {
  std::string message;
  Position position;  // line 0: about the whole build
  std::string rule;   // the check's rule name ("JSONArgsRecommended"); "" for a plain warning
};

// One warning for a terminal, the line quoted below it:
//   check: "FILE:LINE: Rule: message"
//   plain: "FILE:LINE:COL: warning: message" (or "FILE: warning: message")
// `source` may be null (then no file name and no quoted line).
std::string FormatWarning(const Source* source, const Warning& w);

struct Ast {
  SourcePtr source;
  std::vector<Node> children;  // instructions in file order
  char escape = '\\';
  std::vector<Directive> directives;
  std::vector<Warning> warnings;

  // BuildKit's dump: one parenthesised line per instruction, each ending in '\n'.
  std::string Dump() const;
};

}  // namespace hoist::dockerfile
