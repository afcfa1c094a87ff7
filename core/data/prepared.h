// Prepared token data on disk: what `gpas data prepare` writes and the loader memory-maps.
// Layout of DIR: manifest.json (written last, atomically: its presence means complete),
// tokenizer.model (a copy), parts/part-NNNNN.{train,val}.{bin,idx} and parts/part-NNNNN.json
// (a part's done marker, for resuming). .bin: the documents' token ids back to back, each ending
// in EOS, uint16 or uint32 little-endian; .idx: uint64 offsets, docs + 1 of them.
// Leaves out batching (loader.cpp) and writing (prepare.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data/corpus.h"

namespace gpas {

enum class Split { kTrain = 0, kValidation = 1 };
const char* split_name(Split s);  // "train" | "validation"

inline constexpr const char* kPreparedFormat = "gpas-prepared-v1";

struct PrepareOptions {
  std::vector<std::string> corpus;  // files or directories
  std::string tokenizer;            // .model file
  std::string out;                  // the prepared directory
  int64_t seq_len = 0;              // > 0: store each document truncated to seq_len tokens (EOS included)
  double val_fraction = 0.01;       // share of documents in the validation split (no own split files)
  int64_t split_seed = 0;           // the hash split's seed
  CorpusOptions corpus_opts;
  int threads = 0;                  // 0 = all cores
  uint64_t part_bytes = 256ull << 20;  // source bytes per part (the unit of resuming)
  bool progress = false;            // a progress bar on stderr (only drawn on a terminal)
  bool force = false;               // replace a complete directory made from other inputs
};

struct PrepareResult {
  nlohmann::json manifest;
  int64_t parts_reused = 0;  // parts found complete from an earlier, interrupted run
  bool already_complete = false;
  double seconds = 0;
};

// Streams, tokenises on all cores and writes DIR; see the layout above. Throws gpas::Error.
PrepareResult prepare_corpus(const PrepareOptions& opts);

// A prepared directory, memory-mapped. Cheap to open (the manifest and part headers only).
class PreparedData {
 public:
  // Throws gpas::Error when DIR is missing or incomplete (no manifest: prepare did not finish).
  static std::shared_ptr<PreparedData> open(const std::string& dir);
  ~PreparedData();

  const nlohmann::json& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  std::string tokenizer_path() const { return dir_ + "/tokenizer.model"; }
  const std::string& tokenizer_sha256() const { return tok_sha_; }
  int64_t vocab_size() const { return vocab_; }
  int32_t eos_id() const { return eos_; }
  int32_t pad_id() const { return pad_; }

  int64_t docs(Split s) const { return splits_[int(s)].docs; }
  int64_t tokens(Split s) const { return splits_[int(s)].tokens; }
  int64_t doc_len(Split s, int64_t i) const;  // tokens, EOS included
  // Copies tokens [from, from + n) of document i into out.
  void copy(Split s, int64_t i, int64_t from, int64_t n, int32_t* out) const;
  std::vector<int32_t> doc(Split s, int64_t i) const;

 private:
  struct Mapped {
    const uint8_t* data = nullptr;
    size_t bytes = 0;
  };
  struct Part {
    int64_t first_doc = 0, docs = 0;
    Mapped bin, idx;
  };
  struct SplitData {
    std::vector<Part> parts;
    int64_t docs = 0, tokens = 0;
  };
  PreparedData() = default;
  const Part& find(Split s, int64_t& i) const;
  Mapped map(const std::string& path);

  std::string dir_, tok_sha_;
  nlohmann::json manifest_;
  int64_t vocab_ = 0;
  int32_t eos_ = 1, pad_ = 0;
  bool u16_ = true;
  SplitData splits_[2];
  std::vector<Mapped> maps_;
};

}  // namespace gpas
