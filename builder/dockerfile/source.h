// A Dockerfile's text with its name, and the errors that point into it.
//
// Every frontend error reads
//     FILE:LINE:COL: message
//       <the offending line>
//       <caret under COL>
// LINE and COL are 1-based; COL counts runes, and the caret line copies the
// tabs of the quoted line so the caret lines up in a terminal.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::dockerfile {

// A point in a source file. line 0 means "no position" (e.g. an error about
// the whole build rather than a line of it).
struct Position {
  int line = 0;    // 1-based
  int column = 1;  // 1-based, in runes
};

// The text of one file, split into physical lines. Immutable once built;
// shared (read-only) between the parser and everything that reports errors.
class Source {
 public:
  Source(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  int line_count() const { return static_cast<int>(starts_.size()); }
  // The text of 1-based line n without its line ending ("" when out of range).
  std::string_view Line(int n) const;
  // Position of the first non-blank rune of line n (column 1 when none).
  Position LineStart(int n) const;
  // Position of byte `byte_col` (0-based) of line n.
  Position At(int n, size_t byte_col) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> starts_;
};

using SourcePtr = std::shared_ptr<const Source>;

// "FILE:LINE:COL: message\n  line\n  ^" (or "FILE: message" without a
// position). `source` may be null, then only the message is given.
std::string FormatDiagnostic(const Source* source, Position pos, std::string_view message);

// The quoted line and caret of FormatDiagnostic ("\n  line\n  ^"), or ""
// when `pos` is not a line of `source`.
std::string QuoteSourceLine(const Source* source, Position pos);

// A kInvalidArgument Status carrying the formatted diagnostic as its
// message and {"file","line","column","message"} as its JSON detail.
Status ErrorAt(const Source* source, Position pos, std::string_view message);

}  // namespace hoist::dockerfile
