// A table as reports print it (caption, header, cells with best/second emphasis, notes) and its
// renderers: Markdown, LaTeX (booktabs), CSV and an HTML fragment. Byte-stable: no times, no
// locale. Leaves out where the numbers come from (table2.cpp, ablations.cpp, pivot.cpp).
#pragma once
#include <string>
#include <vector>

namespace gpas::results {

enum class Emphasis { kNone, kBest, kSecond };

struct Cell {
  std::string text;         // plain text; "±" is written per format
  Emphasis em = Emphasis::kNone;
  std::string kind = "";    // "", "missing", "diverged", "paper": a style hook (HTML class)
};

struct ReportTable {
  std::string title;                     // "Table 2"
  std::string caption;                   // one sentence or two
  std::vector<std::string> header;
  std::vector<std::vector<Cell>> rows;
  std::vector<size_t> rule_before;       // row indexes that start a new block (LaTeX \midrule)
  std::vector<std::string> notes;        // printed under the table
  std::string label;                     // LaTeX \label, e.g. "tab:ppl"
};

// format: md | latex | csv | html | json | text (aligned, best marked ▲ and second △) | ansi
// (aligned, best bold and second underlined by terminal escapes)
std::string render(const ReportTable& t, const std::string& format);
std::string html_escape(const std::string& s);

// Marks the smallest (kBest) and second smallest (kSecond) numeric value of each listed column;
// values[r][c] < 0 means "no number" (missing, diverged). Ties keep row order.
void mark_best_two(ReportTable& t, const std::vector<std::vector<double>>& values,
                   const std::vector<size_t>& columns);

}  // namespace gpas::results
