// Terminal tables, CSV and JSON for `gpas query` and `gpas runs`. Numbers print with up to
// 10 significant digits in tables and CSV (byte-stable); JSON keeps full precision.
#include "results/text_output.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "results/methods.h"
#include "results/run_admin.h"

namespace gpas::results {

std::string aligned_table(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size(), 0);
  auto width = [](const std::string& s) {  // UTF-8 code points, not bytes
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t i = 0; i < header.size(); ++i) w[i] = width(header[i]);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], width(r[i]));
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < w.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      s += c;
      if (i + 1 < w.size()) s += std::string(w[i] - width(c) + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(header);
  std::vector<std::string> rule;
  for (size_t x : w) rule.push_back(std::string(x, '-'));
  line(rule);
  for (const auto& r : rows) line(r);
  return out.str();
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

static std::string cell_text(const nlohmann::json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.10g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string format_query(const QueryResult& r, const std::string& format) {
  if (format == "json") {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& row : r.rows) {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      for (size_t i = 0; i < r.columns.size(); ++i) o[r.columns[i]] = row[i];
      arr.push_back(std::move(o));
    }
    return arr.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : r.rows) {
    std::vector<std::string> cells;
    for (const auto& v : row) cells.push_back(cell_text(v));
    rows.push_back(std::move(cells));
  }
  if (format == "csv") {
    std::ostringstream out;
    auto line = [&](const std::vector<std::string>& cells) {
      for (size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_field(cells[i]);
      out << "\n";
    };
    line(r.columns);
    for (const auto& c : rows) line(c);
    return out.str();
  }
  return aligned_table(r.columns, rows) + "(" + std::to_string(rows.size()) + " row" +
         (rows.size() == 1 ? "" : "s") + ")\n";
}

static std::string final_ppl(const Store& store, const RunRow& r) {
  auto v = store.final_metric(r.id, "eval/ppl");
  return v ? fixed(*v) : "";
}

static nlohmann::ordered_json tags_json(const std::vector<Tag>& tags) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& t : tags) j[t.key] = t.value;
  return j;
}

std::string format_runs(const Store& store, const std::vector<RunRow>& runs, bool json) {
  std::map<std::string, std::vector<Tag>> tags;
  for (auto& t : tags_of(store, "run")) tags[t.target].push_back(t);
  if (json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& r : runs) {
      auto ppl = store.final_metric(r.id, "eval/ppl");
      arr.push_back({{"id", r.id}, {"name", r.name}, {"sweep", r.sweep}, {"status", r.status},
                     {"size", size_label(r.config)}, {"method", method_of(r.config)},
                     {"seed", config_text(r.config, "train.seed")}, {"last_step", r.last_step},
                     {"eval_ppl", ppl ? nlohmann::ordered_json(*ppl) : nlohmann::ordered_json()},
                     {"run_dir", r.run_dir}, {"error", r.error}, {"tags", tags_json(tags[r.id])}});
    }
    return arr.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  bool any_tags = false;
  for (const auto& r : runs) {
    rows.push_back({r.id, r.name, r.sweep, r.status, size_label(r.config),
                    method_of(r.config), config_text(r.config, "train.seed"),
                    r.last_step < 0 ? "" : std::to_string(r.last_step), final_ppl(store, r),
                    tags_text(tags[r.id])});
    any_tags |= !rows.back().back().empty();
  }
  std::vector<std::string> header = {"ID", "NAME", "SWEEP", "STATUS", "SIZE", "METHOD", "SEED", "STEP", "EVAL PPL"};
  if (any_tags) header.push_back("TAGS");
  return aligned_table(header, rows);
}

std::string format_run(const Store& store, const RunRow& r, bool json) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", r.id},           {"name", r.name},
      {"sweep", r.sweep},     {"status", r.status},
      {"method", method_of(r.config)},
      {"attempt", std::to_string(r.attempt)},
      {"host", r.host},       {"pid", std::to_string(r.pid)},
      {"devices", r.devices}, {"started", r.started},
      {"ended", r.ended},     {"last_step", std::to_string(r.last_step)},
      {"git_commit", r.git_commit}, {"torch_version", r.torch_version},
      {"error", r.error},     {"run_dir", r.run_dir}};
  std::vector<std::pair<std::string, std::optional<double>>> finals;
  for (const auto& k : store.metric_keys(r.id)) finals.emplace_back(k, store.final_metric(r.id, k));
  auto arts = store.artifacts(r.id);
  auto tags = tags_of(store, "run", r.id);
  std::string note;
  for (const auto& t : tags)
    if (t.key == "note") note = t.value;
  fields.push_back({"tags", tags_text(tags)});
  fields.push_back({"note", note});
  if (json) {
    nlohmann::ordered_json o;
    for (const auto& [k, v] : fields) o[k] = v;
    o["attempt"] = r.attempt;  // numbers for scripts (the text above is for the table)
    o["pid"] = r.pid;
    o["last_step"] = r.last_step;
    o["tags"] = tags_json(tags);
    o["config"] = r.config;
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : finals) m[k] = v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
    o["final_metrics"] = m;
    o["layer_kinds"] = store.layer_kinds(r.id);
    o["artifacts"] = nlohmann::ordered_json::array();
    for (const auto& a : arts)
      o["artifacts"].push_back({{"step", a.step}, {"kind", a.kind}, {"path", a.path}, {"bytes", a.bytes}});
    return o.dump(2) + "\n";
  }
  std::ostringstream out;
  for (const auto& [k, v] : fields)
    if (!v.empty()) out << k << std::string(15 - std::min<size_t>(14, k.size()), ' ') << v << "\n";
  out << "\nfinal metrics\n";
  for (const auto& [k, v] : finals) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.6g", v.value_or(0));
    out << "  " << k << std::string(22 - std::min<size_t>(21, k.size()), ' ')
        << (v ? std::string(buf) : std::string("NaN/Inf")) << "\n";
  }
  auto kinds = store.layer_kinds(r.id);
  if (!kinds.empty()) {
    out << "\nlayer stats\n ";
    for (const auto& k : kinds) out << " " << k;
    out << "\n";
  }
  if (!arts.empty()) {
    out << "\nartifacts\n";
    for (const auto& a : arts)
      out << "  step " << a.step << "  " << a.kind << "  " << a.path << "  " << a.bytes << " B\n";
  }
  out << "\nparams\n";
  for (const auto& [k, v] : store.params(r.id)) out << "  " << k << " = " << v << "\n";
  return out.str();
}

}  // namespace gpas::results
