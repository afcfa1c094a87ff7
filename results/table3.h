// Table 3 of the paper: zero-shot accuracy (%) after supervised finetuning, by method, on MMLU,
// WinoGrande, PIQA, OBQA, HellaSwag, BoolQ and ARC-e, and their average; from the store's
// downstream/<task>/acc metrics (gpas eval, downstream.* of a finetune). Also the paper's numbers.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "results/report_table.h"
#include "results/store.h"

namespace gpas::results {

struct Table3Options {
  std::string sweep;           // "" = every run
  std::string size;            // "" = the largest model.size among the runs
  bool finetuned_only = true;  // only runs trained on instruction data (data.source instruct)
  bool acc_norm = false;       // acc_norm where a task has it (PIQA, OBQA, HellaSwag, ARC-e)
  bool compare_paper = false;
};

// Task keys in column order and their headers ("mmlu" -> "MMLU", ...).
const std::vector<std::pair<std::string, std::string>>& table3_columns();
// The paper's Table 3 (1B, %), by method as method_of() names it and task key ("average" too).
std::optional<double> paper_table3(const std::string& method, const std::string& task);

ReportTable table3_table(const Store& store, const Table3Options& opts);

}  // namespace gpas::results
