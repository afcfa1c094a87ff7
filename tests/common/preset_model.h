// A ModelConfig from a size preset and a scheme, as tests across the tree build them.
#pragma once
#include <string>

#include "core/config/config.h"
#include "core/config/presets.h"

namespace gpas::testing {

inline ModelConfig preset_model(const std::string& size, const std::string& norm, bool gpas,
                                int64_t vocab = 32000) {
  const SizePreset* p = find_size_preset(size);
  ModelConfig m;
  m.size = size;
  m.hidden = p->hidden;
  m.intermediate = p->intermediate;
  m.heads = p->heads;
  m.layers = p->layers;
  m.vocab_size = vocab;
  m.norm = norm;
  m.post_layers = norm == "mix" ? m.layers / 4 : -1;
  m.gpas.enabled = gpas;
  return m;
}

}  // namespace gpas::testing
