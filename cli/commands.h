// Every subcommand registers itself through one setup function (CLI11's subcommands-in-files
// pattern, ninja's tool table), listed in one of the two tables below; each file owns one subcommand.
#pragma once
#include <string>

namespace CLI {
class App;
}

namespace gpas::cli {

void setup_model(CLI::App& app);   // model.cpp: model info / model forward
void setup_train(CLI::App& app);   // train.cpp
void setup_export(CLI::App& app);  // export.cpp
void setup_export_runs(CLI::App& app);  // export_runs.cpp: export-runs --tensorboard
void setup_bench(CLI::App& app);   // bench.cpp: bench train, bench head (and bench data)
void setup_bench_head(CLI::App& bench);  // bench_head.cpp: `bench head`, called by setup_bench
void setup_data(CLI::App& app);    // data.cpp: data tokenizer / prepare / inspect
void setup_bench_data(CLI::App& bench);  // bench_data.cpp: `bench data`, called by setup_bench
void setup_bench_plan(CLI::App& bench);  // bench_plan.cpp: `bench plan`, by setup_bench and the front
void setup_data_encode(CLI::App& data);  // data_encode.cpp: `data encode`, called by setup_data
void setup_results(CLI::App& app); // results.cpp: report / query / runs / ingest / analyze
void setup_serve(CLI::App& app);   // serve.cpp: a local web page of the workdir
void setup_analyze(CLI::App& app); // analyze.cpp: analyze importance
void setup_eval(CLI::App& app);    // eval.cpp: zero-shot multiple-choice evaluation (Table 3)
void setup_finetune(CLI::App& app);  // finetune.cpp: instruction finetuning (Table 3)
// train.cpp: a trainer stopped by an error after its start line closes its own attempt in the
// journal with a failed line and the error (train and finetune).
void record_failure(const std::string& run_dir, const std::string& error);
void setup_sweep(CLI::App& app);   // sweep.cpp: sweep plan / run / status / cancel, ablate
void setup_completion(CLI::App& app);  // completion.cpp: completion bash|zsh, man
void setup_libtorch(CLI::App& app);  // libtorch.cpp: what LibTorch sees (version, CUDA, NCCL)
std::string libtorch_facts();        // libtorch.cpp: those as lines, for gpas-torch --version too

// The commands that link LibTorch, built into gpas-torch (torch_main.cpp), the binary the front
// `gpas` (main.cpp) hands their argv to. `gpas --help` lists them first, in this order.
using Setup = void (*)(CLI::App&);
inline constexpr Setup kTorchCommands[] = {
    setup_model,
    setup_train,
    setup_export,
    setup_finetune,
    setup_eval,
    setup_bench,
    setup_data,
    setup_analyze,
    setup_libtorch,
};
// The front's own commands (no LibTorch; they start in milliseconds), listed after those.
// A new subcommand: declare its setup above and add it to the table of the binary it belongs in.
inline constexpr Setup kCommands[] = {
    setup_export_runs,
    setup_results,
    setup_serve,
    setup_sweep,
    setup_completion,
};
// Subcommands of a LibTorch command that need no LibTorch: the front runs `gpas COMMAND NAME ...`
// itself (main.cpp), in place of the stub of its embedded tree. The command's setup registers
// them in gpas-torch as well, so that `gpas COMMAND --help` (handed over) lists every subcommand.
struct FrontSubcommand {
  const char* command;
  const char* name;
  Setup setup;  // adds `name` to the command
};
inline constexpr FrontSubcommand kFrontSubcommands[] = {
    {"bench", "plan", setup_bench_plan},
};

}  // namespace gpas::cli
