// Instruction data for finetuning (data.source: instruct): the Commonsense170K / LLM-Adapters
// layout, rows {"instruction", "input" (optional), "output"} in a JSON array or JSONL file, put
// into the Alpaca prompt template those use; the loss covers the response (and EOS) only.
// Leaves out packing (one example per row, right-padded) and multi-turn chat formats.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/data/batch.h"

namespace gpas {

class Tokenizer;

struct InstructExample {
  std::string instruction, input, output;
};

// Throws gpas::Error naming path:line (JSONL) or path and the row index (JSON array) and the key.
std::vector<InstructExample> read_instruct_file(const std::string& path);
// The prompt up to "### Response:\n" (what the loss leaves out); the output follows it.
std::string instruct_prompt(const InstructExample& e);

// One tokenised example: ids = encode(prompt + output) + EOS, of which the first `prompt` are
// the prompt (no loss); cut to seq_len + 1 tokens (the cutoff).
struct InstructTokens {
  std::vector<int32_t> ids;
  int64_t prompt = 0;
};
InstructTokens tokenize_instruct(const Tokenizer& tok, const InstructExample& e, int64_t seq_len);
// The tokens an example is trained and scored on: its response and EOS within seq_len.
int64_t response_tokens(const InstructTokens& t);

// Training examples after the held-out split (data.val_examples rows, chosen with data.eval_seed).
int64_t instruct_train_examples(const DataConfig& cfg);

// Streams for data.source instruct (batch.h's open_*_stream call these). The training stream
// walks the training rows epoch after epoch, each epoch in its own order (data.seed + epoch).
std::unique_ptr<BatchSource> make_instruct_stream(const DataConfig& cfg, const StreamSpec& spec, bool eval);

}  // namespace gpas
