// The data benchmark: tokenises a sample of text on one thread, then on all of them, and pulls
// batches from the loader as fast as it delivers them. Leaves out disk-cold effects (the sample
// is read into memory first; the shards are in the page cache after the first pass). The verdict
// compares the slower loader mode with the target and with the 71m trainer's consumption.
#include "core/data/bench.h"

#include <atomic>
#include <thread>

#include "core/common/fs.h"
#include "core/config/flops.h"
#include "core/config/presets.h"
#include "core/data/brown.h"
#include "core/data/loader.h"
#include "core/data/tokenizer.h"

namespace gpas {

namespace {

// Tokenises docs (round robin over `threads`) for about `seconds`; returns bytes per second.
double tokenize_rate(const Tokenizer& tok, const std::vector<std::string>& docs, int threads,
                     double seconds, int64_t* tokens) {
  std::atomic<int64_t> bytes{0}, toks{0};
  std::atomic<bool> stop{false};
  double t0 = now_seconds();
  std::vector<std::thread> ws;
  for (int w = 0; w < threads; ++w)
    ws.emplace_back([&, w] {
      for (size_t i = size_t(w); !stop; i = (i + size_t(threads)) % docs.size()) {
        toks += int64_t(tok.encode_doc(docs[i]).size());
        bytes += int64_t(docs[i].size());
      }
    });
  while (now_seconds() - t0 < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : ws) t.join();
  double el = now_seconds() - t0;
  *tokens = int64_t(double(toks) / el);
  return double(bytes) / el;
}

nlohmann::json loader_rate(std::shared_ptr<PreparedData> d, const std::string& mode,
                           const BenchDataOptions& o) {
  LoaderOptions lo;
  lo.mode = mode;
  StreamSpec s;
  s.micro_batch = o.batch;
  s.seq_len = o.seq;
  auto stream = make_prepared_stream(d, lo, s);
  TokenBatch b;
  int64_t slots = 0, loss = 0, batches = 0;
  double t0 = now_seconds();
  while (now_seconds() - t0 < o.seconds) {
    stream->next(b);
    slots += b.rows * b.seq;
    loss += b.loss_tokens();
    ++batches;
  }
  double el = now_seconds() - t0;
  return {{"mode", mode}, {"batches", batches}, {"tokens_per_second", double(slots) / el},
          {"loss_tokens_per_second", double(loss) / el}};
}

// The slower loader mode against the target and the trainer's consumption.
nlohmann::json verdict(const nlohmann::json& loader, const BenchDataOptions& o) {
  std::string slow = loader["pad"]["tokens_per_second"].get<double>() <
                             loader["pack"]["tokens_per_second"].get<double>()
                         ? "pad"
                         : "pack";
  double tps = loader[slow]["tokens_per_second"].get<double>();
  nlohmann::json trainer;
  if (o.trainer_tps > 0) {
    trainer = {{"what", "measured, given with --trainer-tokens-per-second"},
               {"tokens_per_second", o.trainer_tps}};
  } else {
    trainer = {{"what", "71m preset, T5 vocabulary, seq " + std::to_string(o.seq) +
                            ", at 100% of an H100's dense bf16 peak (an upper bound)"},
               {"tokens_per_second", trainer_71m_peak_tokens_per_second(o.seq)}};
  }
  double need = trainer["tokens_per_second"].get<double>();
  return {{"target_tokens_per_second", kLoaderTargetTokensPerSecond},
          {"slower_mode", slow},
          {"loader_tokens_per_second", tps},
          {"ratio_to_target", tps / kLoaderTargetTokensPerSecond},
          {"meets_target", tps >= kLoaderTargetTokensPerSecond},
          {"trainer", trainer},
          {"ratio_to_trainer", tps / need},
          {"outruns_trainer", tps >= need}};
}

}  // namespace

double trainer_71m_peak_tokens_per_second(int64_t seq) {
  const SizePreset* p = find_size_preset("71m");
  ModelConfig m;
  m.hidden = p->hidden;
  m.intermediate = p->intermediate;
  m.layers = p->layers;
  m.vocab_size = 32000;  // T5's tokenizer, as the paper
  return kH100DenseBf16Flops / flops_per_token(m, seq);
}

nlohmann::json bench_data(const BenchDataOptions& in) {
  BenchDataOptions o = in;
  if (o.corpus.empty() || o.tokenizer.empty() || o.prepared.empty()) {
    DataConfig cfg;
    cfg.source = "brown";
    std::string prepared = ensure_brown_prepared(cfg);
    std::string home = brown_home(cfg);
    if (o.corpus.empty()) o.corpus = home + "/text";
    if (o.tokenizer.empty()) o.tokenizer = prepared + "/tokenizer.model";
    if (o.prepared.empty()) o.prepared = prepared;
  }
  int threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  Tokenizer tok = Tokenizer::load(o.tokenizer);
  std::vector<std::string> docs;
  int64_t total = 0;
  CorpusOptions co;
  co.doc_mode = DocMode::kParagraph;
  co.skip_bad_lines = true;
  for_each_doc(list_corpus({o.corpus}), co, [&](const std::string& t) {
    docs.push_back(t);
    total += int64_t(t.size());
    return total < (o.max_mb << 20);
  });
  nlohmann::json r;
  int64_t tps1 = 0, tpsn = 0;
  double one = tokenize_rate(tok, docs, 1, o.seconds, &tps1);
  double all = tokenize_rate(tok, docs, threads, o.seconds, &tpsn);
  r["tokenize"] = {{"corpus", o.corpus}, {"tokenizer", o.tokenizer}, {"sample_mb", total / 1e6},
                   {"mb_per_second_one_core", one / 1e6}, {"threads", threads},
                   {"mb_per_second_all", all / 1e6}, {"mb_per_second_per_core", all / 1e6 / threads},
                   {"tokens_per_second_all", tpsn}};
  auto d = PreparedData::open(o.prepared);
  r["loader"] = {{"prepared", o.prepared}, {"batch", o.batch}, {"seq", o.seq},
                 {"pad", loader_rate(d, "pad", o)}, {"pack", loader_rate(d, "pack", o)}};
  r["verdict"] = verdict(r["loader"], o);
  return r;
}

}  // namespace gpas
