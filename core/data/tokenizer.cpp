// SentencePiece behind gpas's Tokenizer: loading with errors that name the file, T5-style EOS,
// and training through the library's own trainer fed from a callback (no temp corpus file).
#include "core/data/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/common/hash.h"
#include "core/data/spm/spm_shim.h"

namespace gpas {

namespace {

// The SentencePiece shim, loaded once in its own symbol scope (see spm/spm_shim.h).
struct Spm {
  decltype(&gpas_spm_load) load;
  decltype(&gpas_spm_free) free;
  decltype(&gpas_spm_piece_size) piece_size;
  decltype(&gpas_spm_eos_id) eos_id;
  decltype(&gpas_spm_bos_id) bos_id;
  decltype(&gpas_spm_pad_id) pad_id;
  decltype(&gpas_spm_encode) encode;
  decltype(&gpas_spm_decode) decode;
  decltype(&gpas_spm_train) train;
};

std::string exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::filesystem::path(std::string(buf, n)).parent_path().string() : ".";
}

const Spm& spm() {
  static const Spm s = [] {
    std::vector<std::string> tries;
    if (const char* env = std::getenv("GPAS_SPM_SHIM")) tries.push_back(env);
    tries.push_back(exe_dir() + "/libgpas_spm.so");
    tries.push_back(GPAS_SPM_SHIM_PATH);  // the build tree's copy
    std::string errors;
    for (const auto& path : tries) {
      if (!path_exists(path)) continue;
      void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (!h) {
        errors += std::string(" ") + ::dlerror();
        continue;
      }
      auto sym = [&](const char* name) {
        void* f = ::dlsym(h, name);
        if (!f) throw Error(path + ": missing symbol " + name);
        return f;
      };
      Spm r;
      r.load = reinterpret_cast<decltype(r.load)>(sym("gpas_spm_load"));
      r.free = reinterpret_cast<decltype(r.free)>(sym("gpas_spm_free"));
      r.piece_size = reinterpret_cast<decltype(r.piece_size)>(sym("gpas_spm_piece_size"));
      r.eos_id = reinterpret_cast<decltype(r.eos_id)>(sym("gpas_spm_eos_id"));
      r.bos_id = reinterpret_cast<decltype(r.bos_id)>(sym("gpas_spm_bos_id"));
      r.pad_id = reinterpret_cast<decltype(r.pad_id)>(sym("gpas_spm_pad_id"));
      r.encode = reinterpret_cast<decltype(r.encode)>(sym("gpas_spm_encode"));
      r.decode = reinterpret_cast<decltype(r.decode)>(sym("gpas_spm_decode"));
      r.train = reinterpret_cast<decltype(r.train)>(sym("gpas_spm_train"));
      return r;
    }
    throw Error("cannot load libgpas_spm.so (SentencePiece); looked beside the gpas binary and in " +
                std::string(GPAS_SPM_SHIM_PATH) + "; set GPAS_SPM_SHIM to its path." + errors);
  }();
  return s;
}

}  // namespace

struct SpHandle {
  void* sp = nullptr;
  ~SpHandle() {
    if (sp) spm().free(sp);
  }
};

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
  std::string bytes = read_file(path), err;
  t.sp_ = std::make_unique<SpHandle>();
  t.sp_->sp = spm().load(&bytes, &err);
  if (!t.sp_->sp)
    throw Error(path + ": not a SentencePiece model (" + err +
                "); pass a .model file such as T5's spiece.model");
  t.path_ = path;
  t.sha256_ = sha256_hex(bytes);
  t.eos_ = spm().eos_id(t.sp_->sp);
  t.bos_ = spm().bos_id(t.sp_->sp);
  if (t.eos_ < 0) throw Error(path + ": this SentencePiece model has no EOS piece (eos_id -1)");
  int pad = spm().pad_id(t.sp_->sp);
  t.pad_ = pad >= 0 ? pad : t.eos_;
  return t;
}

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int> ids;
  std::string err;
  if (!spm().encode(sp_->sp, &text, &ids, &err))
    throw Error(path_ + ": encoding failed (" + err + ")");
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
  int pad = spm().pad_id(sp_->sp), n = spm().piece_size(sp_->sp);
  for (int32_t id : ids)
    if (id >= 0 && id < n && id != pad) keep.push_back(id);
  std::string out, err;
  if (!spm().decode(sp_->sp, &keep, &out, &err))
    throw Error(path_ + ": decoding failed (" + err + ")");
  return out;
}

int64_t Tokenizer::vocab_size() const { return spm().piece_size(sp_->sp); }

namespace {

// Feeds the trainer one line at a time: SentencePiece trains on sentences, so each text is split
// at newlines and empty lines are dropped.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<bool(std::string&)>& next) : next_(next) {}
  bool operator()(std::string& line) {
    while (true) {
      while (pos_ < text_.size()) {
        size_t nl = text_.find('\n', pos_);
        if (nl == std::string::npos) nl = text_.size();
        line.assign(text_, pos_, nl - pos_);
        pos_ = nl + 1;
        if (line.find_first_not_of(" \t\r") != std::string::npos) return true;
      }
      if (!next_(text_)) return false;
      pos_ = 0;
    }
  }

 private:
  const std::function<bool(std::string&)>& next_;
  std::string text_;
  size_t pos_ = 0;
};

}  // namespace

void train_tokenizer(const std::function<bool(std::string&)>& next, const std::string& out,
                     const TokenizerTrainOptions& o) {
  if (o.model_type != "unigram" && o.model_type != "bpe")
    throw Error("--model-type " + o.model_type + ": expected unigram or bpe", kExitUsage);
  if (o.vocab_size < 16) throw Error("--vocab-size must be at least 16", kExitUsage);
  if (o.eos_id < 0 || o.unk_id < 0)
    throw Error("tokenizer training: eos_id and unk_id must be set (>= 0); only pad and bos "
                "may be -1", kExitUsage);
  int threads = o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  std::unordered_map<std::string, std::string> kw = {
      {"model_type", o.model_type},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"input_sentence_size", std::to_string(o.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"max_sentence_length", "16384"},
      {"num_threads", std::to_string(threads)},
      {"pad_id", std::to_string(o.pad_id)}, {"eos_id", std::to_string(o.eos_id)},
      {"unk_id", std::to_string(o.unk_id)}, {"bos_id", std::to_string(o.bos_id)},
      {"minloglevel", "2"},
  };
  LineSplitter split(next);
  std::string first;
  if (!split(first)) throw Error("tokenizer training input is empty: no text lines found");
  bool have_first = true;
  std::function<bool(std::string&)> next_line = [&](std::string& line) {
    if (have_first) {
      have_first = false;
      line = std::move(first);
      return true;
    }
    return split(line);
  };
  std::string proto, err;
  if (!spm().train(&kw, &next_line, &proto, &err)) {
    std::string msg = err;
    if (msg.find("Vocabulary size") != std::string::npos)
      msg += " (the corpus is too small for this --vocab-size; try a smaller one)";
    throw Error("training the tokenizer for " + out + " failed: " + msg);
  }
  write_file_atomic(out, proto);
}

}  // namespace gpas
