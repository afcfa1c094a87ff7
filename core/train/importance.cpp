#include "core/train/importance.h"

#include <filesystem>

#include "core/common/error.h"
#include "core/common/journal.h"
#include "core/model/model.h"
#include "core/train/checkpoint.h"
#include "core/train/model_source.h"
#include "core/train/runtime.h"
#include "core/train/trainer.h"

namespace gpas {

std::vector<LayerImportance> analyze_importance(const std::string& run_dir, int64_t eval_tokens,
                                                double* base_loss, double* base_ppl) {
  setup_threads();
  std::string ckpt = latest_checkpoint(run_dir);
  if (ckpt.empty()) throw Error(run_dir + ": no checkpoint to analyse (train the run first)");
  RunConfig cfg = checkpoint_config(ckpt);
  if (eval_tokens > 0) cfg.train.eval_tokens = eval_tokens;
  Transformer model(cfg.model);
  TrainState st = load_checkpoint(ckpt, model, nullptr);
  auto [loss0, ppl0] = evaluate_model(model, cfg);
  Journal journal((std::filesystem::path(run_dir) / "journal.jsonl").string());
  std::vector<LayerImportance> out;
  for (int64_t l = 0; l < model->layer_count(); ++l) {
    model->skip_layer = l;
    auto [loss, ppl] = evaluate_model(model, cfg);
    out.push_back({int(l), loss, ppl, loss - loss0, ppl - ppl0});
    journal.layer(st.step, int(l), "importance_loss", loss - loss0);
    journal.layer(st.step, int(l), "importance_ppl", ppl - ppl0);
  }
  model->skip_layer = -1;
  if (base_loss) *base_loss = loss0;
  if (base_ppl) *base_ppl = ppl0;
  return out;
}

std::vector<LayerAccImportance> analyze_importance_downstream(const std::string& run_dir,
                                                              const DownstreamOptions& opts,
                                                              const std::string& tokenizer,
                                                              double* base_acc) {
  setup_threads();
  ModelSource src = resolve_model_source(run_dir);
  Tokenizer tok = Tokenizer::load(tokenizer_for(src.cfg, tokenizer));
  Transformer model(src.cfg.model);
  load_source_weights(src, model);
  if (torch::cuda::is_available() && src.cfg.train.device != "cpu") model->to(torch::Device(torch::kCUDA, 0));
  const double acc0 = downstream_average(evaluate_downstream(model, tok, opts));
  Journal journal((std::filesystem::path(run_dir) / "journal.jsonl").string());
  std::vector<LayerAccImportance> out;
  for (int64_t l = 0; l < model->layer_count(); ++l) {
    model->skip_layer = l;
    double acc = downstream_average(evaluate_downstream(model, tok, opts));
    out.push_back({int(l), acc, acc0 - acc});
    journal.layer(src.step, int(l), "importance_acc", acc0 - acc);
  }
  model->skip_layer = -1;
  if (base_acc) *base_acc = acc0;
  return out;
}

}  // namespace gpas
