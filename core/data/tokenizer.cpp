// SentencePiece behind gpas's Tokenizer: loading with errors that name the file, T5-style EOS,
// and training through the library's own trainer fed from a callback (no temp corpus file).
#include "core/data/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <thread>
#include <unordered_map>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/hash.h"

namespace gpas {

std::string tokenizer_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": tokenizer file not found");
  Sha256 h;
  char buf[1 << 16];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) h.update(buf, in.gcount());
  return h.hex();
}

Tokenizer Tokenizer::load(const std::string& path) {
  if (!path_exists(path))
    throw Error(path + ": tokenizer file not found (make one with `gpas data tokenizer`)");
  Tokenizer t;
  t.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  std::string bytes = read_file(path);
  auto st = t.sp_->LoadFromSerializedProto(bytes);
  if (!st.ok() || t.sp_->GetPieceSize() <= 0)
    throw Error(path + ": not a SentencePiece model (" + st.ToString() +
                "); pass a .model file such as T5's spiece.model");
  t.path_ = path;
  t.sha256_ = sha256_hex(bytes);
  t.eos_ = t.sp_->eos_id();
  if (t.eos_ < 0) throw Error(path + ": this SentencePiece model has no EOS piece (eos_id -1)");
  t.pad_ = t.sp_->pad_id() >= 0 ? t.sp_->pad_id() : t.eos_;
  return t;
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  auto st = sp_->Encode(text, &ids);
  if (!st.ok()) throw Error(path_ + ": encoding failed (" + st.ToString() + ")");
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::vector<int32_t> Tokenizer::encode_doc(const std::string& text) const {
  auto ids = encode(text);
  ids.push_back(eos_);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> keep;
  keep.reserve(ids.size());
  int pad = sp_->pad_id();
  for (int32_t id : ids)
    if (id >= 0 && id < sp_->GetPieceSize() && id != pad) keep.push_back(id);
  std::string out;
  auto st = sp_->Decode(keep, &out);
  if (!st.ok()) throw Error(path_ + ": decoding failed (" + st.ToString() + ")");
  return out;
}

int64_t Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }

namespace {

// Feeds the trainer one line at a time: SentencePiece trains on sentences, so each text is split
// at newlines and empty lines are dropped.
class CallbackIterator : public sentencepiece::SentenceIterator {
 public:
  explicit CallbackIterator(const std::function<bool(std::string&)>& next) : next_(next) { Next(); }
  bool done() const override { return done_; }
  void Next() override {
    while (true) {
      while (pos_ < text_.size()) {
        size_t nl = text_.find('\n', pos_);
        if (nl == std::string::npos) nl = text_.size();
        line_.assign(text_, pos_, nl - pos_);
        pos_ = nl + 1;
        if (line_.find_first_not_of(" \t\r") != std::string::npos) return;
      }
      if (!next_(text_)) {
        done_ = true;
        return;
      }
      pos_ = 0;
    }
  }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::function<bool(std::string&)>& next_;
  std::string text_, line_;
  size_t pos_ = 0;
  bool done_ = false;
};

}  // namespace

void train_tokenizer(const std::function<bool(std::string&)>& next, const std::string& out,
                     const TokenizerTrainOptions& o) {
  if (o.model_type != "unigram" && o.model_type != "bpe")
    throw Error("--model-type " + o.model_type + ": expected unigram or bpe", kExitUsage);
  if (o.vocab_size < 16) throw Error("--vocab-size must be at least 16", kExitUsage);
  int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::unordered_map<std::string, std::string> kw = {
      {"model_type", o.model_type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"input_sentence_size", std::to_string(o.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", "16384"},
      {"num_threads", std::to_string(threads)},
      {"pad_id", "0"}, {"eos_id", "1"}, {"unk_id", "2"}, {"bos_id", "-1"},
      {"minloglevel", "2"},
  };
  CallbackIterator it(next);
  if (it.done()) throw Error("tokenizer training input is empty: no text lines found");
  std::string proto;
  auto st = sentencepiece::SentencePieceTrainer::Train(kw, &it, &proto);
  if (!st.ok()) {
    std::string msg = st.ToString();
    if (msg.find("Vocabulary size") != std::string::npos)
      msg += " (the corpus is too small for this --vocab-size; try a smaller one)";
    throw Error("training the tokenizer for " + out + " failed: " + msg);
  }
  write_file_atomic(out, proto);
}

}  // namespace gpas
