// Config: YAML reading, --set, errors with file:line and key, identities.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "core/common/error.h"
#include "core/common/hash.h"
#include "core/config/config_yaml.h"
#include "core/config/presets.h"
#include "tests/common/nested_aliases.h"

namespace gpas {
namespace {

// Named after the test too: ctest runs the tests of this binary in parallel processes.
std::string write_tmp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" + name;
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& yaml, std::vector<std::string> sets = {}) {
  auto path = write_tmp("bad.yaml", yaml);
  try {
    load_run_config(path, sets);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Config, SizePresetThenExplicitOverride) {
  auto path = write_tmp("ok.yaml", "model:\n  size: 71m\n  layers: 6\n  norm: mix\ntrain:\n  lr: 5e-4\n");
  RunConfig c = load_run_config(path, {"train.steps=7", "model.gpas.enabled=true"});
  EXPECT_EQ(c.model.hidden, 512);
  EXPECT_EQ(c.model.intermediate, 1368);
  EXPECT_EQ(c.model.layers, 6);
  EXPECT_EQ(c.model.post_layers, 1);  // layers / 4
  EXPECT_DOUBLE_EQ(c.train.lr, 5e-4);
  EXPECT_EQ(c.train.steps, 7);
  EXPECT_TRUE(c.model.gpas.enabled);
}

TEST(Config, ErrorsNameFileLineAndKey) {
  std::string e = error_of("model:\n  hiden: 12\n");
  EXPECT_NE(e.find("bad.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("model.hiden"), std::string::npos) << e;
  EXPECT_NE(e.find("hidden"), std::string::npos) << e;  // lists the real keys

  e = error_of("train:\n  steps: many\n");
  EXPECT_NE(e.find("bad.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("train.steps: expected an integer"), std::string::npos) << e;

  e = error_of("model:\n  norm: prenorm\n");
  EXPECT_NE(e.find("bad.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown value 'prenorm'"), std::string::npos) << e;

  e = error_of("model:\n  gpas:\n    activation: gelu\n");
  EXPECT_NE(e.find("bad.yaml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("model.gpas.activation"), std::string::npos) << e;

  e = error_of("model:\n  hidden: 100\n  heads: 3\n");
  EXPECT_NE(e.find("bad.yaml:3"), std::string::npos) << e;
  EXPECT_NE(e.find("not divisible"), std::string::npos) << e;

  e = error_of("train:\n  steps: -5\n");
  EXPECT_NE(e.find("bad.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("train.steps"), std::string::npos) << e;

  e = error_of("model:\n  size: 5m\n");
  EXPECT_NE(e.find("unknown model.size '5m'"), std::string::npos) << e;

  e = error_of("name: x\n", {"train.stepz=3"});
  EXPECT_NE(e.find("--set train.stepz"), std::string::npos) << e;

  e = error_of("model: [1, 2\n");
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
}

// Nested aliases (9 strings, then 9 levels of 9 aliases: 9^9 leaves) used to take 92 s in the
// duplicate-key check, which walked every alias; the same file is now refused at once. An alias
// inside the node it names (a cycle) is refused too, and the duplicate check still sees keys.
TEST(Config, AliasBombsAreRefusedAtOnce) {
  std::string yaml = gpas::testing::nested_aliases() + "train:\n  steps: 5\n";
  auto t0 = std::chrono::steady_clock::now();
  std::string e = error_of(yaml);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 1.0);
  EXPECT_NE(e.find("bad.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("expand to more than"), std::string::npos) << e;

  e = error_of("a: &a [1, *a]\n");
  EXPECT_NE(e.find("bad.yaml:1: *a is an alias inside the node it names"), std::string::npos) << e;
  // A few aliases are fine; a duplicated key is found once, inside an anchored mapping too.
  EXPECT_EQ(error_of("model: &m {size: tiny}\n"), "");
  e = error_of("model: &m\n  size: tiny\n  size: 9m\n");
  EXPECT_NE(e.find("bad.yaml:3: size: this key appears twice"), std::string::npos) << e;
}

// .inf and .nan are numbers to YAML, and used to pass in a file where `--set train.lr=inf` did not.
TEST(Config, NonFiniteNumbersAreRefusedEverywhere) {
  std::string e = error_of("train:\n  lr: .inf\n");
  EXPECT_NE(e.find("bad.yaml:2: train.lr: expected a finite number, got '.inf'"), std::string::npos) << e;
  e = error_of("train:\n  lr: .nan\n");
  EXPECT_NE(e.find("bad.yaml:2: train.lr: expected a finite number"), std::string::npos) << e;
  e = error_of("name: x\n", {"train.lr=.inf"});
  EXPECT_NE(e.find("--set train.lr: expected a finite number"), std::string::npos) << e;
  e = error_of("name: x\n", {"train.lr=inf"});
  EXPECT_NE(e.find("--set train.lr: expected a finite number"), std::string::npos) << e;
  e = error_of("model:\n  gpas:\n    init: [0.1, -.inf]\n");
  EXPECT_NE(e.find("bad.yaml:3: model.gpas.init: expected a finite number"), std::string::npos) << e;
}

TEST(Config, RunIdIgnoresNameAndRoundTrips) {
  RunConfig a;
  RunConfig b;
  b.name = "other";
  EXPECT_EQ(run_id(a), run_id(b));
  resolve(b);
  b.train.lr = 2e-3;
  EXPECT_NE(run_id(a), run_id(b));
  EXPECT_EQ(run_id(from_json(to_json(b))), run_id(b));
  // YAML written by to_yaml reads back to the same identity.
  auto path = write_tmp("rt.yaml", to_yaml(b));
  EXPECT_EQ(run_id(load_run_config(path)), run_id(b));
}

TEST(Presets, MatchThePaper) {
  const SizePreset* p = find_size_preset("1b");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->hidden, 2048);
  EXPECT_EQ(p->intermediate, 5461);
  EXPECT_EQ(find_size_preset("7b")->max_positions, 2048);
  EXPECT_EQ(find_train_recipe("350m")->steps, 60000);
  EXPECT_EQ(find_size_preset("nope"), nullptr);
}

}  // namespace
}  // namespace gpas
