#include "core/common/error.h"

namespace gpas {

std::string at(const std::string& file, int line, const std::string& msg) {
  if (file.empty()) return msg;
  if (line <= 0) return file + ": " + msg;
  return file + ":" + std::to_string(line) + ": " + msg;
}

}  // namespace gpas
