// Instruction data: reading, the Alpaca / LLM-Adapters prompt, tokenisation with the prompt
// masked, the held-out split and the epoch streams. Tokenised data is cached per (file,
// tokenizer, seq_len) in the process: the trainer opens an eval stream at every evaluation.
#include "core/data/instruct.h"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <mutex>
#include <random>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/data/tokenizer.h"

namespace gpas {

namespace nj = nlohmann;

static InstructExample example_of(const nj::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": not a JSON object with instruction/input/output");
  auto get = [&](const char* key, bool required) {
    if (!j.contains(key) || j[key].is_null()) {
      if (required) throw Error(where + ": missing key \"" + std::string(key) + "\"");
      return std::string();
    }
    if (!j[key].is_string()) throw Error(where + ": \"" + std::string(key) + "\" must be a string");
    return j[key].get<std::string>();
  };
  return {get("instruction", true), get("input", false), get("output", true)};
}

std::vector<InstructExample> read_instruct_file(const std::string& path) {
  std::string text = read_file(path);
  std::vector<InstructExample> out;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {  // one JSON array (Commonsense170K's)
    auto j = nj::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_array()) throw Error(path + ": not a valid JSON array of examples");
    for (size_t i = 0; i < j.size(); ++i) out.push_back(example_of(j[i], path + ": example " + std::to_string(i)));
  } else {  // JSONL
    size_t pos = 0;
    for (int line = 1; pos < text.size(); ++line) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string l = text.substr(pos, end - pos);
      pos = end + 1;
      if (l.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto j = nj::json::parse(l, nullptr, false);
      std::string where = path + ":" + std::to_string(line);
      if (j.is_discarded()) throw Error(where + ": not valid JSON (a JSON array, or one object per line)");
      out.push_back(example_of(j, where));
    }
  }
  if (out.empty()) throw Error(path + ": no examples");
  return out;
}

std::string instruct_prompt(const InstructExample& e) {
  if (!e.input.empty())
    return "Below is an instruction that describes a task, paired with an input that provides further "
           "context. Write a response that appropriately completes the request.\n\n### Instruction:\n" +
           e.instruction + "\n\n### Input:\n" + e.input + "\n\n### Response:\n";
  return "Below is an instruction that describes a task. Write a response that appropriately "
         "completes the request.\n\n### Instruction:\n" + e.instruction + "\n\n### Response:\n";
}

InstructTokens tokenize_instruct(const Tokenizer& tok, const InstructExample& e, int64_t seq_len) {
  InstructTokens t;
  const std::string prompt = instruct_prompt(e);
  t.ids = tok.encode(prompt + e.output);
  t.ids.push_back(tok.eos_id());
  t.prompt = std::min<int64_t>(int64_t(tok.encode(prompt).size()), int64_t(t.ids.size()) - 1);
  if (int64_t(t.ids.size()) > seq_len + 1) t.ids.resize(size_t(seq_len + 1));
  t.prompt = std::min<int64_t>(t.prompt, int64_t(t.ids.size()));  // seq_len cut into the prompt
  return t;
}

int64_t response_tokens(const InstructTokens& t) {
  return int64_t(t.ids.size()) - std::max<int64_t>(t.prompt, 1);
}

namespace {

std::vector<size_t> permutation(size_t n, uint64_t seed) {  // Fisher-Yates, stable across platforms
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng() % i]);
  return p;
}

struct Split {
  std::vector<InstructTokens> train, val;
  int64_t vocab = 0;
  int32_t pad = 0;
};

void check_cfg(const DataConfig& cfg) {
  if (cfg.path.empty()) throw Error("data.path: required with data.source instruct (a JSON or JSONL file)");
  if (cfg.tokenizer.empty())
    throw Error("data.tokenizer: required with data.source instruct (the SentencePiece model the "
                "parent model was trained with)");
}

std::vector<size_t> split_order(size_t n, const DataConfig& cfg) {
  if (cfg.val_examples >= int64_t(n))
    throw Error("data.val_examples: " + std::to_string(cfg.val_examples) + " leaves no training examples of the " +
                std::to_string(n) + " in " + cfg.path);
  return permutation(n, uint64_t(cfg.eval_seed));
}

std::shared_ptr<const Split> load_split(const DataConfig& cfg, int64_t seq_len) {
  check_cfg(cfg);
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Split>> cache;
  const std::string key = cfg.path + "\n" + cfg.tokenizer + "\n" + std::to_string(seq_len) + "\n" +
                          std::to_string(cfg.val_examples) + "\n" + std::to_string(cfg.eval_seed);
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto rows = read_instruct_file(cfg.path);
  Tokenizer tok = Tokenizer::load(cfg.tokenizer);
  auto s = std::make_shared<Split>();
  s->vocab = tok.vocab_size();
  s->pad = tok.pad_id() >= 0 ? tok.pad_id() : tok.eos_id();
  auto order = split_order(rows.size(), cfg);
  for (size_t i = 0; i < order.size(); ++i)
    (int64_t(i) < cfg.val_examples ? s->val : s->train).push_back(tokenize_instruct(tok, rows[order[i]], seq_len));
  // An example whose prompt fills seq_len has no response token left to learn or score: refuse a
  // split of only such examples (it would train on nothing at loss 0), and count the others.
  for (auto [v, what] : {std::pair{&s->train, "training"}, std::pair{&s->val, "validation"}}) {
    int64_t empty = std::count_if(v->begin(), v->end(),
                                  [](const InstructTokens& t) { return response_tokens(t) <= 0; });
    if (empty == 0) continue;
    std::string msg = cfg.path + ": " + std::to_string(empty) + " of " + std::to_string(v->size()) + " " + what +
                      " examples have no response token within train.seq_len " + std::to_string(seq_len) +
                      " (the Alpaca prompt, instruction and input take it all with " + cfg.tokenizer + ")";
    if (empty == int64_t(v->size())) throw Error(msg + ": raise train.seq_len");
    spdlog::warn("{}; they are left in but teach nothing", msg);
  }
  cache[key] = s;
  return s;
}

class InstructStream : public BatchSource {
 public:
  InstructStream(std::shared_ptr<const Split> data, const StreamSpec& spec, uint64_t seed, bool eval)
      : data_(std::move(data)), spec_(spec), seed_(seed), eval_(eval) {}

  bool next(TokenBatch& b) override {
    const auto& rows = eval_ ? data_->val : data_->train;
    const int64_t n = int64_t(rows.size()), T = spec_.seq_len;
    b.rows = spec_.micro_batch;
    b.seq = T;
    b.inputs.assign(size_t(b.rows * T), data_->pad);
    b.targets.assign(size_t(b.rows * T), -1);
    int64_t filled = 0;
    for (int64_t r = 0; r < b.rows; ++r) {
      const InstructTokens* ex = nullptr;
      if (eval_) {  // rank r reads rows r, r + world, ...; stops at the end or the budget
        int64_t i = pos_ * spec_.world + spec_.rank;
        if (i >= n || (spec_.token_budget > 0 && tokens_ * spec_.world >= spec_.token_budget)) break;
        ex = &rows[size_t(i)];
      } else {  // global position over epochs; this rank's share of each update
        int64_t g = (pos_ / spec_.micro_batch) * spec_.micro_batch * spec_.world +
                    spec_.rank * spec_.micro_batch + pos_ % spec_.micro_batch;
        ex = &rows[order_for(g / n)[size_t(g % n)]];
      }
      ++pos_;
      ++filled;
      const auto& ids = ex->ids;
      for (size_t t = 0; t + 1 < ids.size(); ++t) {
        b.inputs[size_t(r * T) + t] = ids[t];
        if (int64_t(t) + 1 >= ex->prompt) b.targets[size_t(r * T) + t] = ids[t + 1];
      }
      tokens_ += response_tokens(*ex);
    }
    if (eval_ && filled == 0) return false;
    return true;
  }
  nlohmann::json state() const override { return {{"position", pos_}}; }
  void restore(const nlohmann::json& s) override { pos_ = s.value("position", int64_t(0)); }
  int64_t vocab_size() const override { return data_->vocab; }
  int64_t examples() const override { return int64_t(data_->train.size()); }

 private:
  const std::vector<size_t>& order_for(int64_t epoch) {
    if (epoch != epoch_) {
      order_ = permutation(data_->train.size(), seed_ + uint64_t(epoch));
      epoch_ = epoch;
    }
    return order_;
  }
  std::shared_ptr<const Split> data_;
  StreamSpec spec_;
  uint64_t seed_;
  bool eval_;
  int64_t pos_ = 0, tokens_ = 0, epoch_ = -1;
  std::vector<size_t> order_;
};

}  // namespace

int64_t instruct_train_examples(const DataConfig& cfg) {
  check_cfg(cfg);
  size_t n = read_instruct_file(cfg.path).size();
  split_order(n, cfg);
  return int64_t(n) - cfg.val_examples;
}

std::unique_ptr<BatchSource> make_instruct_stream(const DataConfig& cfg, const StreamSpec& spec, bool eval) {
  auto data = load_split(cfg, spec.seq_len);
  if (eval && data->val.empty())
    throw Error("data.val_examples: 0, so there is no validation split to evaluate (set it > 0)");
  return std::make_unique<InstructStream>(data, spec, uint64_t(cfg.seed), eval);
}

}  // namespace gpas
