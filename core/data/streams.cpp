// Picks the stream for a run's data config. The data pipeline (prepared shards, the Brown corpus)
// plugs in here.
#include "core/common/error.h"
#include "core/data/batch.h"

namespace gpas {

std::unique_ptr<BatchSource> open_train_stream(const DataConfig& cfg, const StreamSpec& spec) {
  if (cfg.source == "synthetic")
    return make_synthetic_stream(cfg.synthetic_vocab, cfg.seed, spec, /*eval=*/false);
  throw Error("data.source: '" + cfg.source + "' is not available in this build yet");
}

std::unique_ptr<BatchSource> open_eval_stream(const DataConfig& cfg, const StreamSpec& spec) {
  if (cfg.source == "synthetic")
    return make_synthetic_stream(cfg.synthetic_vocab, cfg.eval_seed, spec, /*eval=*/true);
  throw Error("data.source: '" + cfg.source + "' is not available in this build yet");
}

}  // namespace gpas
