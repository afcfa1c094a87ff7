// SentencePiece tokenizers: load any .model file (T5's spiece.model, LLaMA's tokenizer.model, ones
// gpas trained), encode a document the T5 way (ids + EOS), decode, and train a new model.
// Leaves out batching and padding (the loader does those) and any other tokenizer family.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gpas {

struct SpHandle;  // the SentencePiece processor, behind the shim library (spm/spm_shim.h)

class Tokenizer {
 public:
  // Throws gpas::Error naming the path when it is missing or not a SentencePiece model.
  static Tokenizer load(const std::string& path);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Ids of `text`, with EOS appended as the T5 tokenizer does. Thread-safe (const).
  std::vector<int32_t> encode_doc(const std::string& text) const;
  std::vector<int32_t> encode(const std::string& text) const;  // no EOS
  std::string decode(const std::vector<int32_t>& ids) const;   // drops pad, stops at nothing
  int64_t vocab_size() const;
  int32_t eos_id() const { return eos_; }
  int32_t bos_id() const { return bos_; }  // -1: none (T5's)
  // The model's pad id; models trained without one (pad_id -1) pad with EOS: padding never enters
  // the loss, so its id only has to be a valid row of the embedding.
  int32_t pad_id() const { return pad_; }
  const std::string& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }  // of the .model file's bytes

 private:
  Tokenizer() = default;
  std::unique_ptr<SpHandle> sp_;
  std::string path_, sha256_;
  int32_t eos_ = 1, pad_ = 0, bos_ = -1;
};

// SHA-256 of a tokenizer file (what manifests record and runs compare).
std::string tokenizer_sha256(const std::string& path);

struct TokenizerTrainOptions {
  int64_t vocab_size = 8000;
  std::string model_type = "unigram";  // unigram | bpe
  double character_coverage = 0.9995;  // SentencePiece's default for Latin-script text
  int64_t max_sentences = 2000000;     // training sample (SentencePiece's input_sentence_size)
  int threads = 0;                     // 0 = all cores
  // Special ids, -1 for none. Default T5's: pad 0, eos 1, unk 2, no bos. LLaMA's: unk 0, bos 1,
  // eos 2, pad -1 (the loader then pads with EOS). EOS and UNK are required.
  int pad_id = 0, eos_id = 1, unk_id = 2, bos_id = -1;
};

// Trains a SentencePiece model on the texts `next` yields (it returns false at the end) and writes
// it atomically to `out` with the special ids of `opts`. Throws gpas::Error.
void train_tokenizer(const std::function<bool(std::string&)>& next, const std::string& out,
                     const TokenizerTrainOptions& opts);

}  // namespace gpas
