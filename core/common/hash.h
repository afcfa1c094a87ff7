// SHA-256 for identities: a run's id is the hash of its resolved config, a tokenizer's hash goes
// into the prepared-data manifest. Not for security.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace gpas {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  std::string hex();  // finishes the hash; call once

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(const std::string& data);

}  // namespace gpas
