// The trainer's view of data: micro-batches of token ids with a loss mask, from a stream that can
// save and restore its position. Implementations: synthetic (tests), prepared shards (loader.h).
// No LibTorch: the trainer turns a TokenBatch into tensors itself.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"

namespace gpas {

struct TokenBatch {
  int64_t rows = 0;              // sequences in this micro-batch
  int64_t seq = 0;               // tokens per sequence
  std::vector<int32_t> inputs;   // rows * seq token ids
  std::vector<int32_t> targets;  // rows * seq next-token ids; -1 = not in the loss (padding)
  int64_t loss_tokens() const {  // targets that count
    int64_t n = 0;
    for (int32_t t : targets) n += (t >= 0);
    return n;
  }
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills `out` with the next micro-batch. Training streams never end (they start a new epoch);
  // evaluation streams return false once their token budget or the split is used up.
  virtual bool next(TokenBatch& out) = 0;
  virtual nlohmann::json state() const = 0;  // position, part of every checkpoint
  virtual void restore(const nlohmann::json& state) = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t examples() const { return -1; }  // training examples per epoch; -1 = unknown
};

struct StreamSpec {
  int64_t micro_batch = 8;   // rows per micro-batch on this rank
  int64_t seq_len = 64;
  int rank = 0;              // data-parallel rank; each rank reads a disjoint share
  int world = 1;
  int64_t token_budget = 0;  // eval streams: stop after this many loss tokens (0 = whole split)
};

// Streams for a run's data config. Throws gpas::Error naming the path on bad data.
// data.source: prepared opens data.path; brown builds the default corpus on first use (minutes,
// once; see brown.h). Training reads the train split shuffled with data.seed; evaluation reads
// the validation split shuffled with data.eval_seed, up to spec.token_budget loss tokens of all
// ranks together.
std::unique_ptr<BatchSource> open_train_stream(const DataConfig& cfg, const StreamSpec& spec);
std::unique_ptr<BatchSource> open_eval_stream(const DataConfig& cfg, const StreamSpec& spec);

// The vocabulary of a run's data (synthetic_vocab, or the prepared data's tokenizer), for building
// the model before any stream is opened. Same errors as the streams.
int64_t data_vocab_size(const DataConfig& cfg);

class PreparedData;
// The prepared directory behind a prepared or brown config (building Brown when missing), with
// data.tokenizer checked against the tokenizer it was made with.
std::shared_ptr<PreparedData> open_prepared_data(const DataConfig& cfg);

// A learnable synthetic stream (each sequence follows a fixed affine rule from a random start,
// with some noise): for tests and benchmarks only, never for results.
std::unique_ptr<BatchSource> make_synthetic_stream(int64_t vocab, uint64_t seed,
                                                   const StreamSpec& spec, bool eval);

}  // namespace gpas
