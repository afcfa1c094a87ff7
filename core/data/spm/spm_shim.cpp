// libgpas_spm.so: SentencePiece behind plain functions (see spm_shim.h for why it is separate).
#include "core/data/spm/spm_shim.h"

#include <utility>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace {

using sentencepiece::SentencePieceProcessor;
// sentencepiece::util::Status in bookworm's 0.1.97, absl::Status in Debian sid's 0.2.2.
using Status = decltype(std::declval<const sentencepiece::SentenceIterator&>().status());

SentencePieceProcessor* P(void* sp) { return static_cast<SentencePieceProcessor*>(sp); }

class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::function<bool(std::string&)>& next) : next_(next) {
    done_ = !next_(line_);
  }
  bool done() const override { return done_; }
  void Next() override { done_ = !next_(line_); }
  const std::string& value() const override { return line_; }
  Status status() const override { return {}; }

 private:
  const std::function<bool(std::string&)>& next_;
  std::string line_;
  bool done_ = false;
};

}  // namespace

extern "C" {

void* gpas_spm_load(const std::string* bytes, std::string* err) {
  auto* sp = new SentencePieceProcessor();
  auto st = sp->LoadFromSerializedProto(*bytes);
  if (!st.ok() || sp->GetPieceSize() <= 0) {
    *err = st.ok() ? "no pieces" : st.ToString();
    delete sp;
    return nullptr;
  }
  return sp;
}

void gpas_spm_free(void* sp) { delete P(sp); }
int gpas_spm_piece_size(void* sp) { return P(sp)->GetPieceSize(); }
int gpas_spm_eos_id(void* sp) { return P(sp)->eos_id(); }
int gpas_spm_bos_id(void* sp) { return P(sp)->bos_id(); }
int gpas_spm_pad_id(void* sp) { return P(sp)->pad_id(); }

bool gpas_spm_encode(void* sp, const std::string* text, std::vector<int>* ids, std::string* err) {
  auto st = P(sp)->Encode(*text, ids);
  if (!st.ok()) *err = st.ToString();
  return st.ok();
}

bool gpas_spm_decode(void* sp, const std::vector<int>* ids, std::string* text, std::string* err) {
  // 0.2.2 deprecates the std::vector overload for absl::Span, which 0.1.97 lacks.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  auto st = P(sp)->Decode(*ids, text);
#pragma GCC diagnostic pop
  if (!st.ok()) *err = st.ToString();
  return st.ok();
}

bool gpas_spm_train(const std::unordered_map<std::string, std::string>* kw,
                    const std::function<bool(std::string&)>* next_line, std::string* proto,
                    std::string* err) {
  LineIterator it(*next_line);
  auto st = sentencepiece::SentencePieceTrainer::Train(*kw, &it, proto);
  if (!st.ok()) *err = st.ToString();
  return st.ok();
}

}  // extern "C"
