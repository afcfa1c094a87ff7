// Renderers of ReportTable. Markdown has no underline, so the second best is <u>...</u>, which
// GitHub and most viewers show; LaTeX uses \textbf and \underline inside a booktabs table; a
// terminal gets aligned text, bold and underlined by escapes ("ansi") or marked ▲ and △ ("text"):
// not `*`, which a cell's own text uses for an interval that excludes zero (paired.h), and which
// Markdown escapes in cells so that two of them do not start emphasis.
#include "results/report_table.h"

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "results/text_output.h"

namespace gpas::results {

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': case '%': case '$': case '#': case '_': case '{': case '}':
        out += '\\';
        out += c;
        break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      case '\\': out += "\\textbackslash{}"; break;
      default: out += c;
    }
  }
  return replace_all(out, "±", "$\\pm$");
}

std::string md_cell(const Cell& c) {
  std::string t = replace_all(replace_all(c.text, "|", "\\|"), "*", "\\*");
  if (c.kind == "missing" || c.kind == "diverged") t = "*" + t + "*";
  if (c.em == Emphasis::kBest) return "**" + t + "**";
  if (c.em == Emphasis::kSecond) return "<u>" + t + "</u>";
  return t;
}

std::string latex_cell(const Cell& c) {
  std::string t = latex_escape(c.text);
  if (c.kind == "missing" || c.kind == "diverged") t = "\\textit{" + t + "}";
  if (c.em == Emphasis::kBest) return "\\textbf{" + t + "}";
  if (c.em == Emphasis::kSecond) return "\\underline{" + t + "}";
  return t;
}

std::string html_cell(const Cell& c) {
  std::string t = html_escape(c.text);
  if (c.em == Emphasis::kBest) t = "<b>" + t + "</b>";
  if (c.em == Emphasis::kSecond) t = "<u>" + t + "</u>";
  return c.kind.empty() ? "<td>" + t + "</td>" : "<td class=\"" + c.kind + "\">" + t + "</td>";
}

size_t width(const std::string& s) {  // UTF-8 code points, not bytes
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string wrap(const std::string& text, size_t cols) {
  std::string out, line, word;
  std::istringstream in(text);
  while (in >> word) {
    if (!line.empty() && width(line) + 1 + width(word) > cols) out += line + "\n", line.clear();
    line += (line.empty() ? "" : " ") + word;
  }
  return out + line + "\n";
}

// Columns padded to their widest cell (first left, the rest right aligned), a rule under the
// header; emphasis is added around the padded text so escapes do not count as width.
std::string render_text(const ReportTable& t, bool ansi) {
  auto plain = [&](const Cell& c) {
    if (ansi || c.em == Emphasis::kNone) return c.text;
    return c.text + (c.em == Emphasis::kBest ? "▲" : "△");
  };
  std::vector<size_t> w(t.header.size(), 0);
  for (size_t i = 0; i < t.header.size(); ++i) w[i] = width(t.header[i]);
  for (const auto& r : t.rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(plain(r[i])));
  auto pad = [&](const std::string& s, size_t i) {
    std::string fill(w[i] - std::min(w[i], width(s)), ' ');
    return i == 0 ? s + fill : fill + s;
  };
  std::ostringstream out;
  out << wrap(t.title + ". " + t.caption, 100) << "\n";
  std::string line;
  for (size_t i = 0; i < t.header.size(); ++i) line += (i ? "  " : "") + pad(t.header[i], i);
  out << line << "\n";
  line.clear();
  for (size_t i = 0; i < w.size(); ++i) line += (i ? "  " : "") + std::string(w[i], '-');
  out << line << "\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (r > 0 && std::count(t.rule_before.begin(), t.rule_before.end(), r)) out << "\n";
    line.clear();
    for (size_t i = 0; i < t.rows[r].size() && i < w.size(); ++i) {
      const Cell& c = t.rows[r][i];
      std::string s = pad(plain(c), i);
      if (ansi && c.em != Emphasis::kNone) {
        size_t lead = s.find_first_not_of(' ');
        s = s.substr(0, lead) + (c.em == Emphasis::kBest ? "\033[1m" : "\033[4m") + s.substr(lead) + "\033[0m";
      }
      line += (i ? "  " : "") + s;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  bool any_em = false;
  for (const auto& r : t.rows)
    for (const auto& c : r) any_em |= c.em != Emphasis::kNone;
  if (any_em) out << (ansi ? "bold: best, underlined: second best\n" : "▲: best, △: second best\n");
  for (const auto& n : t.notes) out << wrap("- " + n, 100);
  return out.str();
}

std::string render_json(const ReportTable& t) {
  nlohmann::ordered_json j = {{"title", t.title}, {"caption", t.caption}, {"header", t.header}};
  j["rows"] = nlohmann::ordered_json::array();
  for (const auto& r : t.rows) {
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (const auto& c : r) row.push_back(c.text);
    j["rows"].push_back(row);
  }
  j["notes"] = t.notes;
  return j.dump(2) + "\n";
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render(const ReportTable& t, const std::string& format) {
  if (format == "text" || format == "ansi") return render_text(t, format == "ansi");
  if (format == "json") return render_json(t);
  std::ostringstream out;
  if (format == "md") {
    out << "**" << t.title << ".** " << t.caption << "\n\n|";
    for (const auto& h : t.header) out << " " << h << " |";
    out << "\n|";
    for (size_t i = 0; i < t.header.size(); ++i) out << (i == 0 ? "---|" : "---:|");
    out << "\n";
    for (const auto& row : t.rows) {
      out << "|";
      for (const auto& c : row) out << " " << md_cell(c) << " |";
      out << "\n";
    }
    if (!t.notes.empty()) out << "\n";
    for (const auto& n : t.notes) out << "- " << n << "\n";
  } else if (format == "latex") {
    out << "% " << t.title << " (generated by gpas report; needs \\usepackage{booktabs})\n"
        << "\\begin{table}[t]\n\\centering\n\\caption{" << latex_escape(t.caption) << "}\n";
    if (!t.label.empty()) out << "\\label{" << t.label << "}\n";
    out << "\\begin{tabular}{l" << std::string(t.header.size() - 1, 'r') << "}\n\\toprule\n";
    for (size_t i = 0; i < t.header.size(); ++i)
      out << (i ? " & " : "") << latex_escape(t.header[i]);
    out << " \\\\\n\\midrule\n";
    for (size_t r = 0; r < t.rows.size(); ++r) {
      if (r > 0 && std::count(t.rule_before.begin(), t.rule_before.end(), r)) out << "\\midrule\n";
      for (size_t i = 0; i < t.rows[r].size(); ++i)
        out << (i ? " & " : "") << latex_cell(t.rows[r][i]);
      out << " \\\\\n";
    }
    out << "\\bottomrule\n\\end{tabular}\n";
    for (const auto& n : t.notes) out << "% note: " << n << "\n";
    out << "\\end{table}\n";
  } else if (format == "csv") {
    for (size_t i = 0; i < t.header.size(); ++i) out << (i ? "," : "") << csv_field(t.header[i]);
    out << "\n";
    for (const auto& row : t.rows) {
      for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << csv_field(row[i].text);
      out << "\n";
    }
  } else if (format == "html") {
    // The caption above the table as a figure's caption, not a <caption>: a <caption> is only as
    // wide as its table, so a table of one or two columns squeezed it into a tall narrow column.
    out << "<figure class=\"table\">\n<figcaption><b>" << html_escape(t.title) << ".</b> "
        << html_escape(t.caption) << "</figcaption>\n<table class=\"gpas\">\n<thead><tr>";
    for (const auto& h : t.header) out << "<th>" << html_escape(h) << "</th>";
    out << "</tr></thead>\n<tbody>\n";
    for (size_t r = 0; r < t.rows.size(); ++r) {
      bool rule = r > 0 && std::count(t.rule_before.begin(), t.rule_before.end(), r);
      out << (rule ? "<tr class=\"rule\">" : "<tr>");
      for (size_t i = 0; i < t.rows[r].size(); ++i)
        out << (i == 0 ? "<th>" + html_escape(t.rows[r][i].text) + "</th>" : html_cell(t.rows[r][i]));
      out << "</tr>\n";
    }
    out << "</tbody>\n</table>\n";
    if (!t.notes.empty()) {
      out << "<ul class=\"notes\">\n";
      for (const auto& n : t.notes) out << "<li>" << html_escape(n) << "</li>\n";
      out << "</ul>\n";
    }
    out << "</figure>\n";
  } else {
    throw Error("unknown table format '" + format + "' (text | md | latex | csv | html | json)", kExitUsage);
  }
  return out.str();
}

void mark_best_two(ReportTable& t, const std::vector<std::vector<double>>& values,
                   const std::vector<size_t>& columns) {
  for (size_t c : columns) {
    std::vector<std::pair<double, size_t>> ranked;
    for (size_t r = 0; r < values.size(); ++r)
      if (c < values[r].size() && values[r][c] >= 0) ranked.emplace_back(values[r][c], r);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    if (ranked.size() > 0) t.rows[ranked[0].second][c].em = Emphasis::kBest;
    if (ranked.size() > 1) t.rows[ranked[1].second][c].em = Emphasis::kSecond;
  }
}

}  // namespace gpas::results
