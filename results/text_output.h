// Text for terminals and scripts: aligned tables, CSV and JSON of query answers, and the views of
// `gpas runs list` / `gpas runs show`. Leaves out the paper's tables (table2.h, report_table.h).
#pragma once
#include <string>
#include <vector>

#include "results/store.h"

namespace gpas::results {

// Columns padded to their widest cell, a dashed rule under the header.
std::string aligned_table(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows);
std::string csv_field(const std::string& s);  // quoted when it holds , " or a newline

// format: table | csv | json (an array of objects, keys in column order).
std::string format_query(const QueryResult& r, const std::string& format);

// One line per run: id, name, sweep, status, size, method, seed, step, eval/ppl.
std::string format_runs(const Store& store, const std::vector<RunRow>& runs, bool json);
// Everything about one run: fields, params, final metrics, layer stats, artifacts.
std::string format_run(const Store& store, const RunRow& run, bool json);

}  // namespace gpas::results
