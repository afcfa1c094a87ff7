// Picks the stream for a run's data config: synthetic, a prepared directory, or the Brown corpus
// (built on first use). Checks the prepared data's tokenizer against data.tokenizer.
#include "core/common/error.h"
#include "core/data/batch.h"
#include "core/data/brown.h"
#include "core/data/instruct.h"
#include "core/data/loader.h"
#include "core/data/tokenizer.h"

namespace gpas {

std::shared_ptr<PreparedData> open_prepared_data(const DataConfig& cfg) {
  std::string dir;
  if (cfg.source == "brown") {
    dir = ensure_brown_prepared(cfg);
  } else if (cfg.source == "prepared") {
    if (cfg.path.empty())
      throw Error("data.path: required with data.source: prepared (a directory made by "
                  "`gpas data prepare`)");
    dir = cfg.path;
  } else {
    throw Error("data.source: '" + cfg.source + "' is not one of synthetic, prepared, brown, instruct");
  }
  auto data = PreparedData::open(dir);
  if (!cfg.tokenizer.empty()) {
    std::string want = tokenizer_sha256(cfg.tokenizer);
    if (want != data->tokenizer_sha256())
      throw Error(dir + ": prepared with another tokenizer (" +
                  data->manifest()["tokenizer"].value("source", "?") + ", sha256 " +
                  data->tokenizer_sha256().substr(0, 12) + ") than data.tokenizer " +
                  cfg.tokenizer + " (sha256 " + want.substr(0, 12) +
                  "); prepare the data again with that tokenizer, or fix data.tokenizer");
  }
  return data;
}

int64_t data_vocab_size(const DataConfig& cfg) {
  if (cfg.source == "synthetic") return cfg.synthetic_vocab;
  if (cfg.source == "instruct") return Tokenizer::load(cfg.tokenizer).vocab_size();
  return open_prepared_data(cfg)->vocab_size();
}

static std::unique_ptr<BatchSource> open_stream(const DataConfig& cfg, const StreamSpec& spec,
                                                bool eval) {
  if (cfg.source == "synthetic")
    return make_synthetic_stream(cfg.synthetic_vocab, eval ? cfg.eval_seed : cfg.seed, spec, eval);
  if (cfg.source == "instruct") return make_instruct_stream(cfg, spec, eval);
  LoaderOptions o;
  o.split = eval ? Split::kValidation : Split::kTrain;
  o.mode = cfg.mode;
  o.seed = uint64_t(eval ? cfg.eval_seed : cfg.seed);
  o.eval = eval;
  return make_prepared_stream(open_prepared_data(cfg), o, spec);
}

std::unique_ptr<BatchSource> open_train_stream(const DataConfig& cfg, const StreamSpec& spec) {
  return open_stream(cfg, spec, false);
}

std::unique_ptr<BatchSource> open_eval_stream(const DataConfig& cfg, const StreamSpec& spec) {
  return open_stream(cfg, spec, true);
}

}  // namespace gpas
