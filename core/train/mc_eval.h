// Zero-shot multiple-choice evaluation of a model (Table 3): log-likelihoods of the requests that
// core/data/mc_tasks.h builds, in length-sorted batches on the model's device, then acc/acc_norm
// per task; results go to a run's journal as metrics downstream/<task>/<acc|acc_norm>[_stderr].
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/common/journal.h"
#include "core/config/config.h"
#include "core/data/mc_tasks.h"
#include "core/data/tokenizer.h"
#include "core/model/model.h"

namespace gpas {

struct DownstreamOptions {
  std::string dir;                 // holds <task>.jsonl
  std::vector<std::string> tasks;  // empty: every task whose file exists in dir
  int64_t limit = 0;               // > 0: the first N rows of each task
  int64_t batch = 16;              // sequences per forward
};

struct TaskResult {
  std::string task;
  bool has_acc_norm = false;
  McScore score;
};

// Summed log P(continuation | context) per request, fp32 log-softmax. Inputs longer than the
// model's max_positions keep their last tokens (as the harness truncates on the left).
std::vector<double> loglikelihoods(Transformer& model, const std::vector<McTokens>& reqs,
                                   int64_t batch);

// Tasks of "mmlu,piqa" checked against the names (throws on an unknown one); "all" = the seven,
// each required; "" = none named (evaluate_downstream then takes every task file present).
std::vector<std::string> parse_task_list(const std::string& list);

std::vector<TaskResult> evaluate_downstream(
    Transformer& model, const Tokenizer& tok, const DownstreamOptions& opts,
    const std::function<void(const TaskResult&)>& on_task = nullptr);

// Mean acc over the tasks (the paper's Average column); NaN when empty.
double downstream_average(const std::vector<TaskResult>& results);
// downstream.* of a finished run: evaluates its latest checkpoint and journals the results,
// unless the journal already has them for that step. Returns false when there was nothing to do.
bool downstream_after_training(const RunConfig& cfg, const std::string& run_dir);

void journal_downstream(Journal& journal, int64_t step, const std::vector<TaskResult>& results,
                        const std::string& prefix = "downstream/");

}  // namespace gpas
