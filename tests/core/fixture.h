// What the trainer tests in tests/core share: a fresh temp directory per test and quiet options.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/train/trainer.h"

namespace gpas::testing {

// <TempDir>/gpas_<tag>, emptied.
inline std::string fresh_dir(const std::string& tag) {
  std::string d = ::testing::TempDir() + "gpas_" + tag;
  std::filesystem::remove_all(d);
  return d;
}

inline TrainOptions quiet() {
  TrainOptions o;
  o.quiet = true;
  return o;
}

}  // namespace gpas::testing
