// The paper's model sizes (semantics.md) and its Table 1 training recipes, as data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace gpas {

struct SizePreset {
  std::string name;
  int64_t hidden, intermediate, heads, layers, max_positions;
};

// Table 1 (and the 1B/7B settings of the reference scripts): peak LR, warmup, steps, batch.
struct TrainRecipe {
  std::string size;
  double lr;
  int64_t warmup_steps, steps, batch_size;
};

const std::vector<SizePreset>& size_presets();  // tiny, 9m, ..., 7b
const SizePreset* find_size_preset(const std::string& name);  // nullptr if unknown
std::string size_preset_names();                               // "tiny, 9m, ..." for errors
const TrainRecipe* find_train_recipe(const std::string& size); // nullptr if the paper has none

}  // namespace gpas
