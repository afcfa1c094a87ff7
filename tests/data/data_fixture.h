// Shared test fixtures for the data tests: a temp directory, a generated English-like corpus in
// plain, JSONL and gzip form, and one small SentencePiece model trained once per test binary.
#pragma once
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/data/corpus.h"
#include "core/data/tokenizer.h"

namespace gpas::testing {

namespace fs = std::filesystem;

inline std::string temp_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("gpas_data_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

inline void write_text(const std::string& path, const std::string& s) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << s;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// gzip member(s): each string in `members` becomes one gzip member, concatenated.
inline void write_gz(const std::string& path, const std::vector<std::string>& members) {
  std::string all;
  fs::create_directories(fs::path(path).parent_path());
  for (const auto& m : members) {
    std::string tmp = path + ".member";
    gzFile g = gzopen(tmp.c_str(), "wb");
    gzwrite(g, m.data(), unsigned(m.size()));
    gzclose(g);
    all += read_bytes(tmp);
    fs::remove(tmp);
  }
  write_text(path, all);
}

// Documents of pseudo-English sentences, deterministic from seed.
inline std::vector<std::string> make_docs(int n, uint64_t seed, int min_words = 5, int max_words = 120) {
  static const char* syl[] = {"ta", "ren", "mo", "lis", "ka", "dor", "pe", "vin", "su", "gal",
                              "tho", "mer", "an", "el", "ri", "os", "qua", "zen", "bel", "fy"};
  std::mt19937_64 rng(seed);
  std::vector<std::string> words;
  for (int i = 0; i < 400; ++i) {
    std::string w;
    int k = 1 + int(rng() % 3);
    for (int j = 0; j < k; ++j) w += syl[rng() % 20];
    words.push_back(w);
  }
  std::vector<std::string> docs;
  for (int d = 0; d < n; ++d) {
    int nw = min_words + int(rng() % uint64_t(max_words - min_words + 1));
    std::string s;
    for (int i = 0; i < nw; ++i) {
      std::string w = words[std::min<size_t>(rng() % 400, rng() % 400)];  // Zipf-ish
      if (i == 0) w[0] = char(std::toupper(w[0]));
      s += (i ? " " : "") + w;
      if (i + 1 == nw || rng() % 12 == 0) s += '.';
    }
    docs.push_back(s);
  }
  return docs;
}

inline std::string jsonl(const std::vector<std::string>& docs, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to; ++i)
    s += nlohmann::json({{"text", docs[i]}, {"url", "u" + std::to_string(i)}}).dump() + "\n";
  return s;
}

// A 400-piece unigram model trained once on make_docs(600, 1).
inline const std::string& small_tokenizer() {
  static std::string path = [] {
    std::string dir = temp_dir("tokenizer");
    auto docs = make_docs(600, 1);
    size_t i = 0;
    TokenizerTrainOptions o;
    o.vocab_size = 400;
    o.character_coverage = 1.0;
    std::string out = dir + "/tok.model";
    train_tokenizer([&](std::string& t) { return i < docs.size() ? (t = docs[i++], true) : false; },
                    out, o);
    return out;
  }();
  return path;
}

// Runs fn and returns the gpas::Error message it throws ("" when it does not throw).
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace gpas::testing
