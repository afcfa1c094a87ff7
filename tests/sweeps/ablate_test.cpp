// gpas ablate's generated sweeps: the suites' job lists, the predefined-gate dependency, and
// experiments/ablations.yaml being exactly `--suite all --size 350m`.
#include <gtest/gtest.h>

#include <set>

#include "sweeps/ablate.h"
#include "sweeps/sweep_file.h"

namespace gpas::sweeps {
namespace {

const std::string kPresets = std::string(GPAS_SOURCE_DIR) + "/experiments/presets";

std::vector<std::string> variants(const Sweep& s) {
  std::vector<std::string> out;
  for (const auto& j : s.jobs) out.push_back(j.cell.back().second);
  return out;
}

TEST(Ablate, SuitesHaveTheAnchorsAndTheirVariants) {
  Sweep a = ablation_sweep("activation", "350m", kPresets, "w");
  EXPECT_EQ(variants(a), (std::vector<std::string>{"no_gpas", "gpas", "identity", "relu", "leaky_relu",
                                                   "tanh", "scaled_silu"}));
  for (const auto& j : a.jobs) {
    EXPECT_EQ(j.cfg.model.norm, "pre");
    EXPECT_EQ(j.cfg.model.hidden, 1024);
    EXPECT_EQ(j.cfg.train.steps, 60000);  // Table 1
  }
  Sweep p = ablation_sweep("position", "350m", kPresets, "w");
  EXPECT_EQ(p.jobs.size(), 5u);
  EXPECT_EQ(p.jobs[2].cfg.model.gpas.site, "before_sublayer");
  Sweep s = ablation_sweep("stopgrad", "350m", kPresets, "w");
  EXPECT_FALSE(s.jobs[2].cfg.model.gpas.stopgrad);
}

TEST(Ablate, PredefinedGatesDependOnTheLearnableRun) {
  Sweep g = ablation_sweep("gate", "tiny", "", "/wd");
  ASSERT_EQ(g.jobs.size(), 3u);
  const Job& fixed = g.jobs[2];
  EXPECT_EQ(fixed.cell.back().second, "predefined_gates");
  EXPECT_EQ(fixed.depends_on, g.jobs[1].id);
  EXPECT_EQ(fixed.cfg.train.fixed_gates_from, "run:" + g.jobs[1].id);
  EXPECT_FALSE(fixed.cfg.model.gpas.learnable);
  EXPECT_TRUE(g.jobs[1].cfg.model.gpas.learnable);
}

TEST(Ablate, SharedAnchorsAreOneJobAndTheFileMatches) {
  Sweep all = ablation_sweep("all", "350m", kPresets, "w");
  EXPECT_EQ(all.jobs.size(), 12u);
  Sweep file = load_sweep(std::string(GPAS_SOURCE_DIR) + "/experiments/ablations.yaml", "w");
  ASSERT_EQ(file.jobs.size(), all.jobs.size());
  for (size_t i = 0; i < all.jobs.size(); ++i) EXPECT_EQ(file.jobs[i].id, all.jobs[i].id) << all.jobs[i].name;
}

TEST(Ablate, UnknownSuiteIsAUsageError) {
  EXPECT_THROW(ablation_yaml("activations", "350m", ""), std::exception);
}

}  // namespace
}  // namespace gpas::sweeps
