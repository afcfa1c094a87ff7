// The batch loader over a prepared directory: implements BatchSource with memory-mapped shards,
// a background prefetch thread, `pad` (the paper's) and `pack` batches, a deterministic shuffle,
// exact save/restore of its position and disjoint shares for data-parallel ranks.
// Leaves out tokenising and reading raw corpora (prepare.cpp does those once, offline).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/data/batch.h"
#include "core/data/prepared.h"

namespace gpas {

struct LoaderOptions {
  Split split = Split::kTrain;
  std::string mode = "pad";  // pad | pack
  uint64_t seed = 32;        // shuffle seed (paper: 32 train, 42 validation)
  bool eval = false;         // eval: one pass, stops at the end or at spec.token_budget
  int prefetch = 4;          // batches prepared ahead by the background thread (0 = none)
};

// A bijection of [0, n) chosen by seed (a Feistel network with cycle walking): the shuffled order
// of n documents in O(1) memory, so C4's 365M documents need no permutation table.
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t seed);
  uint64_t operator()(uint64_t i) const;

 private:
  uint64_t n_, seed_, mask_;
  int half_;
};

// Rows of batch b on rank r are global rows (b * world + r) * micro_batch + i, i < micro_batch,
// and global row g is document perm_epoch(g mod N) of epoch g / N (pad) or window g of the
// shuffled, concatenated documents (pack): ranks are disjoint and together cover every document.
// Eval streams stop (on every rank at the same batch) after the split or token_budget loss tokens
// of all ranks together; rows past the end of the split are all padding.
std::unique_ptr<BatchSource> make_prepared_stream(std::shared_ptr<PreparedData> data,
                                                  const LoaderOptions& opts,
                                                  const StreamSpec& spec);

}  // namespace gpas
