// Tables 4 and 5 of the paper from ablation runs: Pre-LN runs of one size (350m by default) whose
// GPAS knobs differ from the defaults in exactly one of activation, site, stopgrad, learnable.
// The default GPAS run and the run without GPAS appear in every group, as in the paper.
#include <algorithm>
#include <sstream>

#include "core/common/error.h"
#include "core/config/schemes.h"
#include "results/paper_tables.h"
#include "results/reports.h"

namespace gpas::results {

namespace {

struct Variant {
  const char* value;  // the config value of the group's knob; "" = no GPAS
  const char* label;  // the paper's label (paper_tables.cpp)
};

struct Group {
  const char* table;
  const char* ablation;
  const char* key;  // config key of the knob
  std::vector<Variant> variants;
};

const std::vector<Group>& groups() {
  static const std::vector<Group> kGroups = {
      {"4", "activation", "model.gpas.activation",
       {{"identity", "identity"}, {"relu", "relu"}, {"leaky_relu", "leaky_relu"},
        {"tanh", "tanh"}, {"scaled_silu", "scaled_silu_beta8"}, {"silu", "silu (default)"},
        {"", "no GPAS"}}},
      {"4", "position", "model.gpas.site",
       {{"after_sublayer", "after sub-layer (default)"}, {"before_sublayer", "before sub-layer"},
        {"after_norm", "after LayerNorm"}, {"after_module", "after Attn/FFN"}, {"", "no GPAS"}}},
      {"5", "stopgrad", "model.gpas.stopgrad",
       {{"true", "with sg (default)"}, {"false", "without sg"}, {"", "no GPAS"}}},
      {"5", "gate", "model.gpas.learnable",
       {{"true", "learnable (default)"}, {"false", "predefined (fixed to learned values)"},
        {"", "no GPAS"}}},
  };
  return kGroups;
}

const char* kDefaults[][2] = {{"model.gpas.activation", "silu"},
                              {"model.gpas.site", "after_sublayer"},
                              {"model.gpas.stopgrad", "true"},
                              {"model.gpas.learnable", "true"}};

// True if the run is variant `value` of the knob `key`: GPAS on, that knob = value, every other
// knob at its default (scaled_silu only with the paper's beta = 8).
bool is_variant(const nlohmann::json& cfg, const std::string& key, const std::string& value) {
  bool gpas = config_text(cfg, "model.gpas.enabled") == "true";
  if (value.empty()) return !gpas;
  if (!gpas) return false;
  for (const auto& kv : kDefaults) {
    std::string want = key == kv[0] ? value : kv[1];
    if (config_text(cfg, kv[0]) != want) return false;
  }
  if (value == "scaled_silu" && std::stod("0" + config_text(cfg, "model.gpas.beta")) != 8.0)
    return false;
  return true;
}

std::optional<double> paper_value(const Group& g, const Variant& v) {
  for (const auto& p : paper_ablations())
    if (g.ablation == std::string(p.ablation) && v.label == std::string(p.variant))
      return p.perplexity;
  return std::nullopt;
}

}  // namespace

std::vector<ReportTable> ablation_tables(const Store& store, const ReportOptions& opts) {
  std::vector<RunRow> pool;
  for (auto& r : store.list_runs({opts.sweep, "", {}}))
    if (r.config.is_object() && config_text(r.config, "model.size") == opts.size &&
        config_text(r.config, "model.norm") == opts.norm)
      pool.push_back(std::move(r));
  std::vector<ReportTable> out;
  bool any_ablation = false;
  for (const char* table : {"4", "5"}) {
    ReportTable t;
    t.title = std::string("Table ") + table;
    t.label = std::string("tab:gpas-ablation-") + table;
    const Scheme* row = find_scheme(opts.norm);
    t.caption = "Ablations of GPAS on " + opts.size + " " + (row ? row->display : opts.norm) + ": final " + opts.metric +
                " (lower is better)" + (opts.sweep.empty() ? "" : ", sweep " + opts.sweep) +
                ". Mean ± std over seeds [n runs]; best of each ablation in bold, second underlined.";
    t.header = {"Ablation", "Variant", opts.metric};
    if (opts.compare_paper) t.header.push_back("paper (350m)");
    std::vector<std::vector<double>> values;
    for (const auto& g : groups()) {
      if (g.table != std::string(table)) continue;
      size_t first = t.rows.size();
      if (first > 0) t.rule_before.push_back(first);
      for (const auto& v : g.variants) {
        std::vector<RunRow> runs;
        for (const auto& r : pool)
          if (is_variant(r.config, g.key, v.value)) runs.push_back(r);
        CellRuns c = collect_cell(store, runs, opts.metric);
        bool is_default = std::string(v.label).find("(default)") != std::string::npos;
        if (!c.values.empty() && *v.value && !is_default) any_ablation = true;
        for (const auto& [status, n] : c.unfinished)
          t.notes.push_back(std::string(g.ablation) + " / " + v.label + ": " + std::to_string(n) +
                            " run(s) " + status + ", not counted");
        std::vector<Cell> row = {{g.ablation}, {v.label}, cell_of(c)};
        if (opts.compare_paper) {
          auto p = paper_value(g, v);
          row.push_back({p ? fixed(*p) : "", Emphasis::kNone, "paper"});
        }
        t.rows.push_back(std::move(row));
        values.push_back({-1, -1, c.values.empty() ? -1 : c.stats().mean});
      }
      // Best and second within this ablation only.
      std::vector<std::vector<double>> group_values(values.size());
      for (size_t r = first; r < values.size(); ++r) group_values[r] = values[r];
      mark_best_two(t, group_values, {2});
    }
    std::vector<std::string> notes;  // "no GPAS" runs are in every group: note them once
    for (const auto& n : t.notes)
      if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
    t.notes = notes;
    out.push_back(std::move(t));
  }
  if (!any_ablation) return {};
  return out;
}

std::string report_ablations(const Store& store, const ReportOptions& opts, const std::string& format) {
  auto tables = ablation_tables(store, opts);
  if (tables.empty())
    throw Error("no ablation runs found: Pre-LN runs of size " + opts.size +
                " with one GPAS knob (activation, site, stopgrad, learnable) off its default" +
                (opts.sweep.empty() ? std::string() : " in sweep " + opts.sweep) +
                "; use --size for another size");
  std::string out;
  if (format == "json") {  // one array, not a JSON object per table
    for (size_t i = 0; i < tables.size(); ++i) {
      std::string o = render(tables[i], format);
      while (!o.empty() && o.back() == '\n') o.pop_back();
      out += (i ? ",\n" : "[\n") + o;
    }
    return out + "\n]\n";
  }
  for (size_t i = 0; i < tables.size(); ++i) out += (i ? "\n" : "") + render(tables[i], format);
  return out;
}

}  // namespace gpas::results
