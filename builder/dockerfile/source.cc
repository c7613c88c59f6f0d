#include "builder/dockerfile/source.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {

Source::Source(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n' && i + 1 < text_.size()) starts_.push_back(i + 1);
  }
}

std::string_view Source::Line(int n) const {
  if (n < 1 || n > line_count()) return {};
  size_t start = starts_[n - 1];
  size_t end = text_.find('\n', start);
  if (end == std::string::npos) end = text_.size();
  std::string_view line(text_.data() + start, end - start);
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

Position Source::LineStart(int n) const {
  std::string_view line = Line(n);
  std::string_view rest = text::TrimLeftSpace(line);
  return At(n, line.size() - rest.size());
}

Position Source::At(int n, size_t byte_col) const {
  std::string_view line = Line(n);
  if (byte_col > line.size()) byte_col = line.size();
  return Position{n, static_cast<int>(text::RuneCount(line.substr(0, byte_col))) + 1};
}

namespace {

// The line with control characters other than tab shown as '?', so a
// diagnostic never writes raw control bytes to a terminal.
std::string Printable(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (size_t i = 0; i < line.size();) {
    text::Rune r = text::DecodeRune(line, i);
    if (r.value == '\t' ||
        (r.value >= 0x20 && r.value != 0x7F && !(r.width == 1 && r.value >= 0x80))) {
      out.append(line.substr(i, r.width));
    } else {
      out.push_back('?');
    }
    i += r.width;
  }
  return out;
}

}  // namespace

std::string FormatDiagnostic(const Source* source, Position pos, std::string_view message) {
  std::string out;
  if (source != nullptr) out += source->name();
  if (source != nullptr && pos.line > 0) {
    out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  }
  out += out.empty() ? "" : ": ";
  out += message;
  return out + QuoteSourceLine(source, pos);
}

std::string QuoteSourceLine(const Source* source, Position pos) {
  std::string out;
  if (source == nullptr || pos.line <= 0 || pos.line > source->line_count()) return out;
  std::string_view line = source->Line(pos.line);
  // A long line is quoted as a window around the column.
  constexpr int kBefore = 80, kWidth = 160;
  int runes = static_cast<int>(text::RuneCount(line));
  int first = 1, last = runes;  // 1-based rune range shown
  if (runes > kWidth) {
    first = std::max(1, std::min(pos.column - kBefore, runes - kWidth + 1));
    last = std::min(runes, first + kWidth - 1);
  }
  size_t begin = 0, end = line.size();
  int col = 1;
  for (size_t i = 0; i < line.size(); ++col) {
    if (col == first) begin = i;
    i += text::DecodeRune(line, i).width;
    if (col == last) end = i;
  }
  std::string_view shown = line.substr(begin, end - begin);
  out += "\n  ";
  out += first > 1 ? "..." : "";
  out += Printable(shown);
  out += last < runes ? "..." : "";
  out += "\n  ";
  out += first > 1 ? "   " : "";
  col = first;
  for (size_t i = 0; i < shown.size() && col < pos.column; ++col) {
    text::Rune r = text::DecodeRune(shown, i);
    out.push_back(r.value == '\t' ? '\t' : ' ');
    i += r.width;
  }
  out.push_back('^');
  return out;
}

Status ErrorAt(const Source* source, Position pos, std::string_view message) {
  nlohmann::json detail = {{"message", std::string(message)}};
  if (source != nullptr) detail["file"] = source->name();
  if (pos.line > 0) {
    detail["line"] = pos.line;
    detail["column"] = pos.column;
  }
  return Status(Code::kInvalidArgument, FormatDiagnostic(source, pos, message),
                detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace hoist::dockerfile
