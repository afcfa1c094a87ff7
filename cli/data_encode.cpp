// `gpas data encode TEXT|FILE --tokenizer spiece.model --out tokens.safetensors`: token ids as
// the int64 (B, T) tensor "tokens" that `gpas model forward` reads. One row (the whole text), or
// with --lines one row per non-empty line, padded with the tokenizer's pad id to the longest.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/common/error.h"
#include "core/common/fs.h"
#include "core/data/tokenizer.h"
#include "core/model/safetensors.h"

namespace gpas::cli {

namespace {

struct EncodeOptions {
  std::string input, tokenizer, out;
  bool lines = false, eos = false, json = false;
  int64_t seq_len = 0;
};

void run_encode(const EncodeOptions& o) {
  // A path that exists is read; anything else is the text itself.
  std::string text = o.input;
  bool from_file = std::filesystem::is_regular_file(o.input);
  if (from_file) text = read_file(o.input);
  auto tok = Tokenizer::load(o.tokenizer);
  std::vector<std::string> docs;
  if (o.lines) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (l.find_first_not_of(" \t\r") != std::string::npos) docs.push_back(l);
  } else {
    docs.push_back(text);
  }
  std::vector<std::vector<int32_t>> rows;
  size_t width = 0;
  for (const auto& d : docs) {
    auto ids = o.eos ? tok.encode_doc(d) : tok.encode(d);
    if (o.seq_len > 0 && int64_t(ids.size()) > o.seq_len) ids.resize(o.seq_len);
    width = std::max(width, ids.size());
    rows.push_back(std::move(ids));
  }
  if (rows.empty() || width == 0)
    throw Error((from_file ? o.input : std::string("the text")) + ": no tokens to write (empty input)");
  auto t = torch::full({int64_t(rows.size()), int64_t(width)}, int64_t(tok.pad_id()), torch::kInt64);
  auto acc = t.accessor<int64_t, 2>();
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) acc[r][c] = rows[r][c];
  save_safetensors(o.out, {{"tokens", t}},
                   {{"tokenizer", std::filesystem::path(o.tokenizer).filename().string()},
                    {"tokenizer_sha256", tok.sha256()}});
  if (o.json) {
    std::cout << nlohmann::json{{"out", o.out}, {"batch", rows.size()}, {"seq", width},
                                {"pad_id", tok.pad_id()}, {"tokenizer_sha256", tok.sha256()}}.dump() << "\n";
    return;
  }
  std::printf("wrote %s: tokens (%zu, %zu) int64 from %s%s\n", o.out.c_str(), rows.size(), width,
              from_file ? o.input.c_str() : "the text", rows.size() > 1 ? ", rows padded with the pad id" : "");
}

}  // namespace

void setup_data_encode(CLI::App& data) {
  auto o = std::make_shared<EncodeOptions>();
  auto* c = data.add_subcommand("encode", "Token ids of a text or a file as tokens.safetensors "
                                          "(int64 (B, T) \"tokens\", what `gpas model forward` reads)");
  c->add_option("input", o->input, "the text itself, or a file to read")->required();
  c->add_option("--tokenizer", o->tokenizer, "SentencePiece .model file (Brown's: $(gpas data brown)/tokenizer.model)")
      ->required()->check(CLI::ExistingFile);
  c->add_option("--out", o->out, "the safetensors file to write")->required();
  c->add_flag("--lines", o->lines, "one row per non-empty line (padded with the pad id)");
  c->add_flag("--eos", o->eos, "append EOS to each row, as training documents end");
  c->add_option("--seq-len", o->seq_len, "truncate each row to this many tokens; 0 = whole")->capture_default_str();
  c->add_flag("--json", o->json, "one JSON object");
  c->callback([o] { run_encode(*o); });
}

}  // namespace gpas::cli
