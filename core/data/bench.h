// `gpas bench data`: how fast the data pipeline is: SentencePiece tokenisation (MB/s on one core
// and on all) and the loader (tokens/s delivered in pad and pack mode). Not a timed test.
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
};

// {"tokenize": {...}, "loader": {...}}; throws gpas::Error on bad paths.
nlohmann::json bench_data(const BenchDataOptions& opts);

}  // namespace gpas
