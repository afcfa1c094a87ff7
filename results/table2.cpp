// Table 2 of the paper: final perplexity by method (rows) and model size (columns), from the
// store. Also the cell reduction every report shares (collect_cell, cell_of). Ablation runs
// (GPAS knobs off their defaults) are left out; ablations.cpp reports those.
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "core/common/error.h"
#include "results/paired.h"
#include "results/paper_tables.h"
#include "results/reports.h"

namespace gpas::results {

CellRuns collect_cell(const Store& store, const std::vector<RunRow>& runs, const std::string& metric) {
  CellRuns c;
  for (const auto& r : runs) {
    if (r.status == "diverged") {
      ++c.diverged;
    } else if (r.status == "completed") {
      auto v = store.final_metric(r.id, metric);
      if (v) {
        c.values.push_back(*v);
        std::string seed = config_text(r.config, "train.seed");
        c.by_seed[seed.empty() ? 0 : std::stoll(seed)] = *v;
      }
      else
        ++c.unfinished["completed without " + metric];
    } else {
      ++c.unfinished[r.status];
    }
  }
  return c;
}

Cell cell_of(const CellRuns& c, std::optional<std::string> change, bool any_scale) {
  if (c.values.empty()) return c.diverged > 0 ? Cell{"diverged", Emphasis::kNone, "diverged"}
                                              : Cell{"missing", Emphasis::kNone, "missing"};
  Stats s = c.stats();
  auto num = [&](double x) { return any_scale && std::abs(s.mean) < 1 ? general(x) : fixed(x); };
  std::string t = num(s.mean);
  if (s.n > 1) t += " ± " + num(s.std <= 1e-9 * std::abs(s.mean) ? 0.0 : s.std);  // rounding noise reads 0
  if (change) t += " (" + *change + ")";
  std::vector<std::string> info;
  if (s.n > 1) info.push_back("n=" + std::to_string(s.n));
  if (c.diverged > 0) info.push_back(std::to_string(c.diverged) + " diverged");
  if (!info.empty()) {
    t += " [";
    for (size_t i = 0; i < info.size(); ++i) t += (i ? ", " : "") + info[i];
    t += "]";
  }
  return {t};
}

Table2Data collect_table2(const Store& store, const ReportOptions& opts) {
  RunFilter f;
  f.sweep = opts.sweep;
  // (method, size) -> seedless identity -> runs
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::vector<RunRow>>> groups;
  std::set<std::string> sizes, extra_methods;
  for (auto& r : store.list_runs(f)) {
    if (!r.config.is_object()) continue;
    std::string method = method_of(r.config), size = size_label(r.config);
    if (method.empty() || size.empty()) continue;
    if (config_text(r.config, "model.gpas.enabled") == "true" && !gpas_knobs_default(r.config))
      continue;  // an ablation run
    sizes.insert(size);
    const auto& pm = paper_methods();
    if (std::find(pm.begin(), pm.end(), method) == pm.end()) extra_methods.insert(method);
    groups[{method, size}][seedless_identity(r.config)].push_back(std::move(r));
  }
  if (sizes.empty())
    throw Error("no runs with model.norm and model.size in the store" +
                (opts.sweep.empty() ? std::string() : " for sweep '" + opts.sweep + "'") +
                "; run `gpas ingest` first, or check `gpas runs list`");
  Table2Data d;
  d.methods = paper_methods();
  d.methods.insert(d.methods.end(), extra_methods.begin(), extra_methods.end());
  sort_methods(d.methods);
  d.sizes.assign(sizes.begin(), sizes.end());
  sort_sizes(d.sizes);
  for (const auto& [key, by_config] : groups) {
    // Seeds of one experiment agree on everything but the seed; if a cell holds several such
    // experiments, show the most complete one and say so.
    const std::vector<RunRow>* best = nullptr;
    CellRuns best_cell;
    std::string best_identity;
    for (const auto& [identity, runs] : by_config) {
      CellRuns c = collect_cell(store, runs, opts.metric);
      size_t done = c.values.size() + c.diverged, best_done = best_cell.values.size() + best_cell.diverged;
      if (!best || done > best_done || (done == best_done && runs.size() > best->size())) {
        best = &runs;
        best_cell = c;
        best_identity = identity;
      }
    }
    d.cells[key] = best_cell;
    if (!best->empty()) d.lr[key] = config_text(best->front().config, "train.lr");
    const std::string where = key.second + " " + key.first;
    if (by_config.size() > 1)
      d.notes.push_back(where + ": runs of " + std::to_string(by_config.size()) +
                        " configurations that differ beyond the seed; shown: the " +
                        std::to_string(best->size()) + " run(s) of configuration " + best_identity +
                        " (use --sweep to separate them)");
    for (const auto& [status, n] : best_cell.unfinished)
      d.notes.push_back(where + ": " + std::to_string(n) + " run(s) " + status + ", not counted");
  }
  return d;
}

std::string compare_paper_gap(const std::vector<std::string>& sizes) {
  std::string missing, have;
  for (const auto& s : sizes)
    if (!paper_table2("Pre-LN", s)) missing += (missing.empty() ? "" : ", ") + s;
  for (const auto& s : paper_table2_sizes()) have += (have.empty() ? "" : ", ") + s;
  if (missing.empty()) return "";
  return "--compare-paper: the paper's Table 2 has no numbers for " + missing +
         " (it reports " + have + ")";
}

// A GPAS row against its base method: paired by seed where they share seeds, else the difference
// of the means (marked unpaired).
struct Change {
  PairedChange paired;
  double unpaired = 0;
};
static std::optional<Change> change_of(const Table2Data& d, const std::string& method,
                                       const std::string& size) {
  std::string base = base_method(method);
  if (base.empty()) return std::nullopt;
  auto a = d.cells.find({method, size}), b = d.cells.find({base, size});
  if (a == d.cells.end() || b == d.cells.end() || a->second.values.empty() ||
      b->second.values.empty())
    return std::nullopt;
  return Change{paired_change(a->second.by_seed, b->second.by_seed),
                a->second.stats().mean - b->second.stats().mean};
}

// "change,paired_n,lo,hi" for the CSVs: paired, or the difference of the means with n 0, or empty.
static std::string change_csv(const std::optional<Change>& ch) {
  if (ch && ch->paired.n > 0)
    return signed_fixed(ch->paired.mean, 4) + "," + std::to_string(ch->paired.n) + "," +
           (ch->paired.n > 1 ? signed_fixed(ch->paired.lo, 4) + "," + signed_fixed(ch->paired.hi, 4) : ",");
  return (ch ? signed_fixed(ch->unpaired, 4) : "") + ",0,,";
}

ReportTable table2_table(const Table2Data& d, const ReportOptions& opts) {
  ReportTable t;
  t.title = "Table 2";
  t.label = "tab:gpas-ppl";
  t.caption = "Final " + opts.metric + " (lower is better) by method and model size" +
              (opts.sweep.empty() ? "" : ", sweep " + opts.sweep) +
              ". Mean ± std over seeds [n runs]. GPAS rows show in parentheses the mean paired change "
              "against the same scheme without GPAS" + kPairedChangeCaption +
              " Best per size in bold, second underlined." +
              (opts.compare_paper ? " Columns marked (paper): the published numbers." : "");
  t.header = {"Method"};
  std::vector<size_t> measured_cols;
  for (const auto& s : d.sizes) {
    measured_cols.push_back(t.header.size());
    t.header.push_back(s);
    if (opts.compare_paper && paper_table2("Pre-LN", s)) t.header.push_back(s + " (paper)");
  }
  std::vector<std::vector<double>> values;
  for (size_t m = 0; m < d.methods.size(); ++m) {
    const std::string& method = d.methods[m];
    if (method == "DeepNorm + GPAS" || (m > 0 && m == paper_methods().size()))
      t.rule_before.push_back(m);
    std::vector<Cell> row = {{method}};
    std::vector<double> vals = {-1};
    for (const auto& s : d.sizes) {
      auto it = d.cells.find({method, s});
      CellRuns c = it == d.cells.end() ? CellRuns{} : it->second;
      auto ch = change_of(d, method, s);
      row.push_back(cell_of(c, ch ? std::optional<std::string>(paired_change_text(ch->paired, ch->unpaired))
                                  : std::nullopt));
      vals.push_back(c.values.empty() ? -1 : c.stats().mean);
      if (opts.compare_paper && paper_table2("Pre-LN", s)) {
        auto p = paper_table2(method, s);
        row.push_back({p ? fixed(*p) : "", Emphasis::kNone, "paper"});
        vals.push_back(-1);
      }
    }
    t.rows.push_back(std::move(row));
    values.push_back(std::move(vals));
  }
  mark_best_two(t, values, measured_cols);
  t.notes = d.notes;
  if (opts.compare_paper)
    if (std::string gap = compare_paper_gap(d.sizes); !gap.empty()) t.notes.push_back(gap);
  return t;
}

std::string table2_csv(const Table2Data& d, const ReportOptions& opts) {
  std::ostringstream out;
  out << "method,size,mean,std,n,diverged,unfinished,delta_vs_base,paired_n,paired_lo,paired_hi"
      << (opts.compare_paper ? ",paper" : "")
      << "\n";
  for (const auto& m : d.methods)
    for (const auto& s : d.sizes) {
      auto it = d.cells.find({m, s});
      CellRuns c = it == d.cells.end() ? CellRuns{} : it->second;
      Stats st = c.stats();
      int unfinished = 0;
      for (const auto& [k, n] : c.unfinished) unfinished += n;
      out << m << "," << s << "," << (st.n ? fixed(st.mean, 4) : "") << ","
          << (st.n > 1 ? fixed(st.std, 4) : "") << "," << st.n << "," << c.diverged << ","
          << unfinished << "," << change_csv(change_of(d, m, s));
      if (opts.compare_paper) {
        auto p = paper_table2(m, s);
        out << "," << (p ? fixed(*p) : "");
      }
      out << "\n";
    }
  return out.str();
}

// The GPAS arm of a scheme's row ("Pre + GPAS" of "Pre-LN"), "" where there is none.
static std::string gpas_arm(const Table2Data& d, const std::string& base) {
  auto it = std::find_if(d.methods.begin(), d.methods.end(),
                         [&](const std::string& m) { return base_method(m) == base; });
  return it == d.methods.end() ? "" : *it;
}

static std::string lr_of(const Table2Data& d, const std::string& method, const std::string& size) {
  auto it = d.lr.find({method, size});
  return it == d.lr.end() ? std::string() : it->second;
}

ReportTable schemes_table(const Table2Data& d, const ReportOptions& opts) {
  ReportTable t;
  t.title = "Schemes";
  t.label = "tab:gpas-schemes";
  const bool one_size = d.sizes.size() == 1;
  t.caption = "Final " + opts.metric + " (lower is better) of each scheme without and with GPAS" +
              (one_size ? " at " + d.sizes[0] : "") + (opts.sweep.empty() ? "" : ", sweep " + opts.sweep) +
              ", and the learning rate its runs used. Mean ± std over seeds [n runs]. The change is "
              "the mean paired change with GPAS against without" + kPairedChangeCaption +
              " Best per column in bold, second underlined.";
  t.header = {"Scheme", "lr"};
  std::vector<size_t> measured_cols;
  for (const auto& s : d.sizes) {
    const std::string at = one_size ? "" : s + " ";
    measured_cols.push_back(t.header.size());
    t.header.push_back(at + "without GPAS");
    measured_cols.push_back(t.header.size());
    t.header.push_back(at + "with GPAS");
    t.header.push_back(at + "change");
  }
  // Rows: the schemes with runs (a QK-norm variant is a scheme of its own here), in Table 2's order.
  std::vector<std::string> bases;
  for (const auto& m : d.methods) {
    const std::string b = base_method(m), base = b.empty() ? m : b;
    bool has_runs = false;
    for (const auto& s : d.sizes) has_runs = has_runs || d.cells.count({m, s});
    if (has_runs && std::find(bases.begin(), bases.end(), base) == bases.end()) bases.push_back(base);
  }
  sort_methods(bases);
  std::vector<std::vector<double>> values;
  for (const auto& base : bases) {
    const std::string with = gpas_arm(d, base);
    // "0.004", or per size "71m: 0.004; 130m: 0.002"; "0.004 (GPAS 0.008)" where the arms differ.
    std::vector<std::pair<std::string, std::string>> parts;  // (size, text)
    for (const auto& s : d.sizes) {
      const std::string a = lr_of(d, base, s), g = lr_of(d, with, s);
      std::string part = a.empty() ? (g.empty() ? "" : "GPAS " + g) : g.empty() || g == a ? a : a + " (GPAS " + g + ")";
      if (!a.empty() && !g.empty() && g != a)
        t.notes.push_back(s + " " + base + ": the runs with GPAS used another learning rate (" + g +
                          " against " + a + "); the change compares across the two");
      if (!part.empty()) parts.emplace_back(s, part);
    }
    const bool same = std::all_of(parts.begin(), parts.end(), [&](const auto& p) { return p.second == parts[0].second; });
    std::string lr;
    for (const auto& [s, part] : parts)
      if (!same || lr.empty()) lr += (lr.empty() ? "" : "; ") + (one_size || same ? "" : s + ": ") + part;
    std::vector<Cell> row = {{base}, {lr}};
    std::vector<double> vals = {-1, -1};
    for (const auto& s : d.sizes) {
      for (const auto& m : {base, with}) {
        auto it = d.cells.find({m, s});
        CellRuns c = it == d.cells.end() ? CellRuns{} : it->second;
        row.push_back(cell_of(c));
        vals.push_back(c.values.empty() ? -1 : c.stats().mean);
      }
      auto ch = with.empty() ? std::nullopt : change_of(d, with, s);
      row.push_back({ch ? paired_change_text(ch->paired, ch->unpaired) : ""});
      vals.push_back(-1);
    }
    t.rows.push_back(std::move(row));
    values.push_back(std::move(vals));
  }
  mark_best_two(t, values, measured_cols);
  return t;
}

// Long CSV for scripts, one line per (scheme, size): the numbers the table's cells print.
static std::string schemes_csv(const Table2Data& d, const ReportTable& t) {
  std::ostringstream out;
  out << "scheme,size,lr,lr_gpas,mean,std,n,mean_gpas,std_gpas,n_gpas,change,change_n,change_lo,change_hi\n";
  for (const auto& row : t.rows) {
    const std::string& base = row[0].text;
    const std::string with = gpas_arm(d, base);
    for (const auto& s : d.sizes) {
      auto stats = [&](const std::string& m) {
        auto it = d.cells.find({m, s});
        Stats st = it == d.cells.end() ? Stats{} : it->second.stats();
        return (st.n ? fixed(st.mean, 4) : "") + "," + (st.n > 1 ? fixed(st.std, 4) : "") + "," + std::to_string(st.n);
      };
      out << base << "," << s << "," << lr_of(d, base, s) << "," << lr_of(d, with, s) << "," << stats(base) << "," << stats(with) << ",";
      out << change_csv(with.empty() ? std::nullopt : change_of(d, with, s)) << "\n";
    }
  }
  return out.str();
}

std::string report_schemes(const Store& store, const ReportOptions& opts, const std::string& format) {
  Table2Data d = collect_table2(store, opts);
  ReportTable t = schemes_table(d, opts);
  if (format == "csv") return schemes_csv(d, t);
  t.notes.insert(t.notes.end(), d.notes.begin(), d.notes.end());  // what collect_table2 left out
  return render(t, format);
}

std::string report_table2(const Store& store, const ReportOptions& opts, const std::string& format) {
  Table2Data d = collect_table2(store, opts);
  if (format == "csv") return table2_csv(d, opts);
  return render(table2_table(d, opts), format);
}

}  // namespace gpas::results
