#include "core/config/presets.h"

namespace gpas {

const std::vector<SizePreset>& size_presets() {
  static const std::vector<SizePreset> kPresets = {
      {"tiny", 64, 176, 4, 2, 1024},  // for tests and laptops; not in the paper
      {"9m", 128, 352, 4, 4, 1024},
      {"20m", 256, 688, 4, 4, 1024},
      {"35m", 384, 1024, 8, 6, 1024},
      {"60m", 512, 1376, 8, 8, 1024},
      {"71m", 512, 1368, 8, 12, 1024},
      {"130m", 768, 2048, 12, 12, 1024},
      {"250m", 768, 2560, 16, 24, 1024},
      {"350m", 1024, 2736, 16, 24, 1024},
      {"1b", 2048, 5461, 32, 24, 1024},
      {"3b", 2560, 6848, 32, 32, 1024},
      {"7b", 4096, 11008, 32, 32, 2048},
  };
  return kPresets;
}

const SizePreset* find_size_preset(const std::string& name) {
  for (const auto& p : size_presets())
    if (p.name == name) return &p;
  return nullptr;
}

std::string size_preset_names() {
  std::string s;
  for (const auto& p : size_presets()) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

const TrainRecipe* find_train_recipe(const std::string& size) {
  static const std::vector<TrainRecipe> kRecipes = {
      {"71m", 1e-3, 1000, 10000, 512},   {"130m", 1e-3, 2000, 20000, 512},
      {"250m", 1e-3, 4000, 40000, 512},  {"350m", 5e-4, 6000, 60000, 512},
      {"1b", 5e-4, 10000, 100000, 512},  {"7b", 3e-4, 10000, 150000, 2048},
  };
  for (const auto& r : kRecipes)
    if (r.size == size) return &r;
  return nullptr;
}

}  // namespace gpas
