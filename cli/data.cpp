// `gpas data tokenizer | prepare | inspect | brown` (and `encode`, data_encode.cpp): parse options and call the data library
// (core/data). Output for people by default, --json for scripts; errors are gpas::Error.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "core/common/error.h"
#include "core/data/brown.h"
#include "core/data/prepared.h"
#include "core/data/tokenizer.h"

namespace gpas::cli {

namespace {

struct TokenizerOptions {
  std::vector<std::string> input;
  std::string out, model_type = "unigram", text_field = "text", doc_mode = "file";
  int64_t vocab_size = 8000, max_sentences = 2000000;
  // SentencePiece reads every line it is given and only then samples --max-sentences of them, so
  // without a cap it would read all of C4. 1M documents (~3 of C4's 1024 train files, ~2 GB of
  // text, several million lines) fill that sample; smaller corpora are read whole.
  int64_t max_docs = 1000000;
  double coverage = 0.9995;
  bool skip_bad_lines = false;
  bool json = false;
};

void run_tokenizer(const TokenizerOptions& o) {
  if (o.max_docs < 0) throw Error("--max-docs must be >= 0 (0 = no limit)", kExitUsage);
  DocStream docs(list_corpus(o.input), {o.text_field, parse_doc_mode(o.doc_mode), o.skip_bad_lines});
  int64_t read = 0;
  auto next = [&](std::string& t) {
    if (o.max_docs > 0 && read >= o.max_docs) return false;
    if (!docs.next(t)) return false;
    ++read;
    return true;
  };
  TokenizerTrainOptions to;
  to.vocab_size = o.vocab_size;
  to.model_type = o.model_type;
  to.character_coverage = o.coverage;
  to.max_sentences = o.max_sentences;
  train_tokenizer(next, o.out, to);
  auto tok = Tokenizer::load(o.out);
  if (o.json) {
    std::cout << nlohmann::json{{"out", o.out}, {"model_type", o.model_type}, {"pieces", tok.vocab_size()},
                                {"pad_id", tok.pad_id()}, {"eos_id", tok.eos_id()}, {"sha256", tok.sha256()},
                                {"documents", read}, {"skipped_lines", docs.skipped()}}.dump()
              << "\n";
    return;
  }
  std::printf("wrote %s: %s, %lld pieces, pad %d, eos %d, sha256 %s\n", o.out.c_str(),
              o.model_type.c_str(), (long long)tok.vocab_size(), tok.pad_id(), tok.eos_id(),
              tok.sha256().c_str());
  std::printf("trained on %lld documents%s\n", (long long)read,
              o.max_docs > 0 && read >= o.max_docs ? " (stopped at --max-docs)" : "");
  if (docs.skipped()) std::printf("skipped %lld bad lines\n", (long long)docs.skipped());
}

struct PrepareCliOptions {
  PrepareOptions p;
  std::string doc_mode = "file";
  bool json = false;
};

void print_counts(const nlohmann::json& m) {
  for (const char* s : {"train", "validation"})
    std::printf("  %-10s %10lld documents %14lld tokens\n", s,
                (long long)m["counts"][s]["docs"].get<int64_t>(),
                (long long)m["counts"][s]["tokens"].get<int64_t>());
}

void run_prepare(PrepareCliOptions o) {
  o.p.corpus_opts.doc_mode = parse_doc_mode(o.doc_mode);
  o.p.progress = !o.json;
  auto r = prepare_corpus(o.p);
  if (o.json) {
    std::cout << nlohmann::json{{"manifest", r.manifest}, {"already_complete", r.already_complete},
                                {"parts_reused", r.parts_reused}, {"seconds", r.seconds}}
                     .dump()
              << "\n";
    return;
  }
  const auto& m = r.manifest;
  if (r.already_complete) std::printf("%s is already complete (same inputs)\n", o.p.out.c_str());
  else std::printf("prepared %s in %.1f s (%lld parts reused)\n", o.p.out.c_str(), r.seconds,
                   (long long)r.parts_reused);
  print_counts(m);
  std::printf("  split: %s; tokens as %s; skipped lines: %lld\n",
              m["split"]["method"].get<std::string>().c_str(), m["dtype"].get<std::string>().c_str(),
              (long long)m["skipped_lines"].get<int64_t>());
}

struct InspectOptions {
  std::string dir;
  int samples = 3;
  int64_t chars = 300;
  bool json = false;
};

void run_inspect(const InspectOptions& o) {
  auto d = PreparedData::open(o.dir);
  auto tok = Tokenizer::load(d->tokenizer_path());
  nlohmann::json samples = nlohmann::json::array();
  for (Split s : {Split::kTrain, Split::kValidation})
    for (int64_t i = 0; i < std::min<int64_t>(o.samples, d->docs(s)); ++i) {
      auto ids = d->doc(s, i);
      samples.push_back({{"split", split_name(s)}, {"doc", i}, {"tokens", ids.size()},
                         {"text", tok.decode(ids)}});
    }
  if (o.json) {
    std::cout << nlohmann::json{{"manifest", d->manifest()}, {"samples", samples}}.dump() << "\n";
    return;
  }
  nlohmann::json m = d->manifest();
  m.erase("parts");
  m["corpus"].erase("files");
  std::printf("%s\n%s\n", o.dir.c_str(), m.dump(2).c_str());
  std::printf("files: %zu, parts: %zu\n", d->manifest()["corpus"]["files"].size(),
              d->manifest()["parts"].size());
  print_counts(d->manifest());
  for (const auto& s : samples) {
    std::string text = s["text"].get<std::string>();
    if (int64_t(text.size()) > o.chars) text = text.substr(0, o.chars) + "...";
    std::printf("\n[%s #%lld, %lld tokens]\n%s\n", s["split"].get<std::string>().c_str(),
                (long long)s["doc"].get<int64_t>(), (long long)s["tokens"].get<int64_t>(),
                text.c_str());
  }
}

}  // namespace

void setup_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Tokenizers, corpora and prepared token shards");
  data->require_subcommand(1);

  auto t = std::make_shared<TokenizerOptions>();
  auto* tc = data->add_subcommand("tokenizer", "Train a SentencePiece tokenizer on a corpus "
                                  "(pad 0, eos 1, unk 2 as T5's)");
  tc->add_option("--input", t->input, "corpus files or directories (C4 json.gz, JSONL, text)")->required();
  tc->add_option("--vocab-size", t->vocab_size, "pieces in the vocabulary")->capture_default_str();
  tc->add_option("--out", t->out, "the .model file to write")->required();
  tc->add_option("--model-type", t->model_type, "unigram | bpe")->capture_default_str();
  tc->add_option("--text-field", t->text_field, "JSONL: field holding the text")->capture_default_str();
  tc->add_option("--doc-mode", t->doc_mode, "text files: file | paragraph")->capture_default_str();
  tc->add_option("--character-coverage", t->coverage, "share of characters covered")->capture_default_str();
  tc->add_option("--max-sentences", t->max_sentences, "training sample (lines)")->capture_default_str();
  tc->add_option("--max-docs", t->max_docs,
                 "read at most this many documents (SentencePiece reads all it is given before "
                 "sampling --max-sentences lines; 1M C4 documents are plenty); 0 = no limit")
      ->capture_default_str();
  tc->add_flag("--skip-bad-lines", t->skip_bad_lines, "skip (and count) bad JSON lines");
  tc->add_flag("--json", t->json, "one JSON summary object");
  tc->callback([t] { run_tokenizer(*t); });

  auto p = std::make_shared<PrepareCliOptions>();
  auto* pc = data->add_subcommand(
      "prepare",
      "Tokenise a corpus once into token shards for training. Streams the corpus, uses all cores, "
      "writes DIR/manifest.json last: an interrupted run leaves no complete-looking directory, and "
      "running the same command again finishes it. C4's validation files become the validation "
      "split; otherwise --val-fraction of the documents, chosen by a hash (deterministic).");
  pc->add_option("--corpus", p->p.corpus, "files or directories (c4-*.json.gz, *.jsonl[.gz], text)")->required();
  pc->add_option("--tokenizer", p->p.tokenizer, "SentencePiece .model file")->required();
  pc->add_option("--out", p->p.out, "output directory")->required();
  pc->add_option("--seq-len", p->p.seq_len, "store documents truncated to this many tokens; 0 = whole")->capture_default_str();
  pc->add_option("--val-fraction", p->p.val_fraction, "validation share without own split files")->capture_default_str();
  pc->add_option("--split-seed", p->p.split_seed, "seed of the hash split")->capture_default_str();
  pc->add_option("--text-field", p->p.corpus_opts.text_field, "JSONL: field holding the text")->capture_default_str();
  pc->add_option("--doc-mode", p->doc_mode, "text files: one document per file | per blank-line paragraph")->capture_default_str();
  pc->add_flag("--skip-bad-lines", p->p.corpus_opts.skip_bad_lines, "skip (and count) bad JSON lines instead of failing");
  pc->add_option("--threads", p->p.threads, "tokenising threads; 0 = all cores")->capture_default_str();
  pc->add_flag("--force", p->p.force, "replace a directory prepared from other inputs");
  pc->add_flag("--json", p->json, "JSON summary (no progress bar)");
  pc->callback([p] { run_prepare(*p); });

  auto i = std::make_shared<InspectOptions>();
  auto* ic = data->add_subcommand("inspect", "Show a prepared directory: manifest, counts, decoded samples");
  ic->add_option("dir", i->dir, "prepared directory")->required();
  ic->add_option("--samples", i->samples, "documents shown per split")->capture_default_str();
  ic->add_option("--chars", i->chars, "characters shown per document")->capture_default_str();
  ic->add_flag("--json", i->json, "JSON for scripts");
  ic->callback([i] { run_inspect(*i); });

  setup_data_encode(*data);

  auto* bc = data->add_subcommand("brown", "Build the default corpus (Brown, data.source: brown) "
                                  "now and print its prepared directory");
  auto bjson = std::make_shared<bool>(false);
  bc->add_flag("--json", *bjson, "{\"prepared\": DIR, \"tokenizer\": DIR/tokenizer.model}");
  bc->callback([bjson] {
    DataConfig cfg;
    cfg.source = "brown";
    std::string dir = ensure_brown_prepared(cfg);
    if (*bjson) std::cout << nlohmann::json{{"prepared", dir}, {"tokenizer", dir + "/tokenizer.model"}}.dump() << "\n";
    else std::printf("%s\n", dir.c_str());
  });
}

}  // namespace gpas::cli
