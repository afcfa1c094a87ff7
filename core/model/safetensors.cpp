#include "core/model/safetensors.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/common/fs.h"

namespace gpas {

namespace {

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {torch::kFloat32, "F32"}, {torch::kFloat16, "F16"}, {torch::kBFloat16, "BF16"},
    {torch::kFloat64, "F64"}, {torch::kInt64, "I64"},   {torch::kInt32, "I32"},
    {torch::kInt16, "I16"},   {torch::kInt8, "I8"},     {torch::kUInt8, "U8"},
    {torch::kBool, "BOOL"},
};

const char* dtype_name(torch::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  throw Error(std::string("safetensors: unsupported dtype ") + c10::toString(t));
}

torch::ScalarType dtype_of(const std::string& name, const std::string& path) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  throw Error(path + ": unsupported safetensors dtype '" + name + "'");
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    auto c = t.detach().to(torch::kCPU).contiguous();
    int64_t bytes = c.numel() * c.element_size();
    header[name] = {{"dtype", dtype_name(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
  std::string out(8, '\0');
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
  out += h;
  out.reserve(out.size() + offset);
  for (const auto& c : data)
    out.append(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
  write_file_atomic(path, out);
}

NamedTensors load_safetensors(const std::string& path,
                              std::map<std::string, std::string>* metadata) {
  std::string buf = read_file(path);
  if (buf.size() < 8) throw Error(path + ": not a safetensors file (shorter than 8 bytes)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(buf[i])) << (8 * i);
  if (n > buf.size() - 8) throw Error(path + ": not a safetensors file (header length " +
                                      std::to_string(n) + " exceeds the file)");
  auto header = nlohmann::json::parse(buf.substr(8, n), nullptr, false);
  if (header.is_discarded() || !header.is_object())
    throw Error(path + ": not a safetensors file (the header is not a JSON object)");
  const size_t base = 8 + n;
  struct Entry {
    std::string name;
    int64_t begin;
    torch::Tensor t;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (metadata)
        for (auto m = it->begin(); m != it->end(); ++m) (*metadata)[m.key()] = m->get<std::string>();
      continue;
    }
    try {
      auto type = dtype_of(it->at("dtype").get<std::string>(), path);
      auto shape = it->at("shape").get<std::vector<int64_t>>();
      auto off = it->at("data_offsets").get<std::vector<int64_t>>();
      auto t = torch::empty(shape, torch::TensorOptions().dtype(type));
      int64_t bytes = t.numel() * t.element_size();
      if (off.size() != 2 || off[1] - off[0] != bytes || base + off[1] > buf.size())
        throw Error(path + ": tensor '" + it.key() + "' has data_offsets that do not fit");
      std::memcpy(t.data_ptr(), buf.data() + base + off[0], bytes);
      entries.push_back({it.key(), off[0], t});
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": tensor '" + it.key() + "': malformed header entry (" + e.what() + ")");
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  NamedTensors out;
  for (auto& e : entries) out.emplace_back(e.name, e.t);
  return out;
}

}  // namespace gpas
