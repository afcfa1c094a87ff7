// `gpas bench data`: how fast the data pipeline is: SentencePiece tokenisation (MB/s on one core
// and on all) and the loader (tokens/s delivered in pad and pack mode), judged against the target
// and against what the 71m preset can consume. Not a timed test.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace gpas {

struct BenchDataOptions {
  std::string corpus;     // text to tokenise; default: the Brown corpus (built when missing)
  std::string tokenizer;  // default: Brown's tokenizer
  std::string prepared;   // directory for the loader; default: Brown's prepared directory
  int64_t batch = 64;     // loader rows per batch
  int64_t seq = 256;      // loader sequence length
  double seconds = 2.0;   // per measurement
  int threads = 0;        // tokenisation threads; 0 = all cores
  int64_t max_mb = 16;    // text read for the tokenisation measurement
  double trainer_tps = 0; // a measured trainer tokens/s to judge against; 0: the 71m bound below
};

// The goal: the loader delivers >= 2M tokens/s on 2 cores (the bench also compares with
// trainer_71m_peak_tokens_per_second, the most one H100 could consume).
inline constexpr double kLoaderTargetTokensPerSecond = 2e6;

// What the 71m preset (T5 vocabulary) can consume at most on an H100: its dense bf16 data-sheet
// peak over the model FLOPs per token at this sequence length (100% MFU; real runs are slower).
double trainer_71m_peak_tokens_per_second(int64_t seq);

// {"tokenize": {...}, "loader": {...}, "verdict": {...}}; throws gpas::Error on bad paths.
nlohmann::json bench_data(const BenchDataOptions& opts);

}  // namespace gpas
