#include "builder/dockerfile/ast.h"

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {

Position Node::PositionOf(size_t offset) const {
  if (segments.empty()) return Position{start_line, 1};
  size_t k = 0;
  while (k + 1 < segments.size() && segments[k + 1].offset <= offset) ++k;
  const LineSegment& seg = segments[k];
  size_t seg_end = k + 1 < segments.size() ? segments[k + 1].offset : original.size();
  if (offset > seg_end) offset = seg_end;
  if (offset < seg.offset) offset = seg.offset;
  std::string_view covered = std::string_view(original).substr(seg.offset, offset - seg.offset);
  return Position{seg.line, seg.column + static_cast<int>(text::RuneCount(covered))};
}

Position Node::PositionOfText(std::string_view needle) const {
  size_t at = needle.empty() ? std::string::npos : original.find(needle);
  if (at == std::string::npos) {
    at = original.size() - text::TrimLeftSpace(original).size();
  }
  return PositionOf(at);
}

std::string Node::Keyword() const {
  return text::ToLower(value);
}

std::string Node::Dump() const {
  std::string out = text::ToLower(value);
  if (!flags.empty()) {
    out += " [";
    for (size_t i = 0; i < flags.size(); ++i) {
      if (i > 0) out += ' ';
      out += text::Quote(flags[i]);
    }
    out += ']';
  }
  for (const std::string& a : args) {
    out += ' ';
    out += text::Quote(a);
  }
  for (const Node& t : trigger) {
    out += " (";
    out += t.Dump();
    out += ')';
  }
  return std::string(text::TrimSpace(out));
}

std::string FormatWarning(const Source* source, const Warning& w) {
  if (w.rule.empty()) {
    std::string out = FormatDiagnostic(w.position.line > 0 ? source : nullptr, w.position,
                                       "warning: " + w.message);
    return w.position.line <= 0 && source != nullptr ? source->name() + ": " + out : out;
  }
  std::string line = w.position.line > 0 ? std::to_string(w.position.line) : "";
  std::string out = source != nullptr ? source->name() + (line.empty() ? "" : ":" + line) + ": "
                                      : (line.empty() ? "" : "line " + line + ": ");
  return out + w.rule + ": " + w.message + QuoteSourceLine(source, w.position);
}

std::string Ast::Dump() const {
  std::string out;
  for (const Node& n : children) {
    out += '(';
    out += n.Dump();
    out += ")\n";
  }
  return out;
}

}  // namespace hoist::dockerfile
