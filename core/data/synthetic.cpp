// The synthetic token stream: deterministic from (seed, rank, batch index), so its state is one
// counter and resume is exact. For tests and benchmarks; real data comes from loader.cpp.
#include <random>

#include "core/data/batch.h"

namespace gpas {

namespace {

class SyntheticStream : public BatchSource {
 public:
  SyntheticStream(int64_t vocab, uint64_t seed, const StreamSpec& spec, bool eval)
      : vocab_(vocab), seed_(seed + (eval ? 0x9e3779b97f4a7c15ull : 0)), spec_(spec), eval_(eval) {}

  bool next(TokenBatch& out) override {
    if (eval_ && spec_.token_budget > 0 && served_ >= spec_.token_budget) return false;
    const int64_t rows = spec_.micro_batch, T = spec_.seq_len;
    out.rows = rows;
    out.seq = T;
    out.inputs.resize(rows * T);
    out.targets.resize(rows * T);
    // Global batch index -> this rank's rows: rank r takes rows [r*rows, (r+1)*rows) of a batch of
    // world*rows, so 1 rank with micro_batch 2B sees exactly what 2 ranks with B see together.
    for (int64_t r = 0; r < rows; ++r) {
      uint64_t row_id = (index_ * spec_.world + spec_.rank) * rows + r;
      std::mt19937_64 rng(seed_ * 1000003ull + row_id);
      std::uniform_int_distribution<int64_t> tok(0, vocab_ - 1);
      std::uniform_real_distribution<double> u(0, 1);
      int64_t mul = 1 + 2 * (row_id % 3);  // a few rules, all learnable
      int64_t prev = tok(rng);
      for (int64_t t = 0; t <= T; ++t) {
        int64_t cur = t == 0 ? prev : (u(rng) < 0.1 ? tok(rng) : (prev * mul + 1) % vocab_);
        if (t < T) out.inputs[r * T + t] = static_cast<int32_t>(cur);
        if (t > 0) out.targets[r * T + t - 1] = static_cast<int32_t>(cur);
        prev = cur;
      }
    }
    ++index_;
    served_ += rows * T * spec_.world;  // the budget counts the tokens of all ranks together
    return true;
  }
  nlohmann::json state() const override { return {{"index", index_}, {"served", served_}}; }
  void restore(const nlohmann::json& s) override {
    index_ = s.at("index").get<uint64_t>();
    served_ = s.at("served").get<int64_t>();
  }
  int64_t vocab_size() const override { return vocab_; }

 private:
  int64_t vocab_;
  uint64_t seed_;
  StreamSpec spec_;
  bool eval_;
  uint64_t index_ = 0;
  int64_t served_ = 0;
};

}  // namespace

std::unique_ptr<BatchSource> make_synthetic_stream(int64_t vocab, uint64_t seed,
                                                   const StreamSpec& spec, bool eval) {
  return std::make_unique<SyntheticStream>(vocab, seed, spec, eval);
}

}  // namespace gpas
