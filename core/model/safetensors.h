// safetensors, the ecosystem's weight format: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then raw little-endian data.
// Written with nlohmann-json; tensors are always copied to contiguous CPU memory.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace gpas {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Tensors in file order (by offset). Throws gpas::Error naming the file on a malformed header.
NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata = nullptr);

}  // namespace gpas
