// Zero-shot multiple-choice tasks as the LM Evaluation Harness builds them (Table 3): each JSONL
// row of a task's dataset becomes one (context, continuation) request per choice; scoring picks
// the choice of highest log-likelihood (acc) or per-character log-likelihood (acc_norm) and gives
// the harness's standard error. No LibTorch: core/train/mc_eval.h computes the log-likelihoods.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gpas {

class Tokenizer;

struct McRequest {
  std::string context;       // what the model reads
  std::string continuation;  // what it is scored on (the harness's " " delimiter included)
};

struct McDoc {
  std::vector<McRequest> requests;  // one per choice
  std::vector<std::string> choices; // the choice strings; acc_norm divides by their lengths
  int gold = 0;
  std::string group;                // MMLU: the subject; "" otherwise
};

struct McTask {
  std::string name;        // mmlu | winogrande | piqa | openbookqa | hellaswag | boolq | arc_easy
  bool has_acc_norm = false;
  std::vector<McDoc> docs;
};

// The seven tasks of Table 3, in the paper's column order.
const std::vector<std::string>& mc_task_names();
// Turns one dataset row into a document; throws gpas::Error naming `where` (file:line) and the
// key that is missing or malformed.
McDoc format_mc_doc(const std::string& task, const nlohmann::json& row, const std::string& where);
// Reads <path> (one JSON object per line); limit > 0 keeps the first `limit` rows.
McTask load_mc_task(const std::string& task, const std::string& path, int64_t limit = 0);

// The harness's pre-processing, exposed for tests.
std::string hellaswag_preprocess(const std::string& text);
size_t utf8_length(const std::string& s);  // code points (Python's len)

// Token ids of a request as the harness splits them: trailing spaces of the context move to the
// continuation; whole = encode(context + continuation), context = encode(context), continuation
// = whole[len(context):]. An empty context reads as EOS.
struct McTokens {
  std::vector<int32_t> context, continuation;
};
McTokens encode_mc_request(const Tokenizer& tok, const McRequest& r);

struct McMetric {
  double value = 0;   // mean over documents
  double stderr_ = 0; // sample std / sqrt(n) (NaN for n < 2)
};
struct McScore {
  int64_t n = 0;
  McMetric acc, acc_norm;                // acc_norm only when the task has it
  std::map<std::string, McMetric> groups;  // MMLU: acc per subject
};
// loglik[d][c]: the summed log-likelihood of document d's choice c.
McScore score_mc_task(const McTask& task, const std::vector<std::vector<double>>& loglik);
McMetric mean_stderr(const std::vector<double>& xs);

}  // namespace gpas
