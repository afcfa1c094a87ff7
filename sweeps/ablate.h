// The paper's ablations (Tables 4-5, Section 5.7) as a sweep: Pre-LN at one size, GPAS with one
// knob changed per job. The predefined-gate job depends on the learnable-gate run and reads its
// final gates (train.fixed_gates_from). Running the sweep is the scheduler's job.
#pragma once
#include <string>
#include <vector>

#include "sweeps/job.h"

namespace gpas::sweeps {

const std::vector<std::string>& ablation_suites();  // activation, position, stopgrad, gate, all
// The sweep file text of a suite at a size (experiments/ablations.yaml is the `all` / 350m one).
// presets_dir: where presets/paper.yaml lives ("" = none: the base is only the Pre-LN scheme).
std::string ablation_yaml(const std::string& suite, const std::string& size, const std::string& presets_dir);
Sweep ablation_sweep(const std::string& suite, const std::string& size, const std::string& presets_dir,
                     const std::string& workdir, const std::vector<std::string>& sets = {});

}  // namespace gpas::sweeps
