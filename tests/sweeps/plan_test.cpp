// Plans: a sweep's jobs priced in the hours of the device they run on (CPU jobs in CPU-hours).
#include <gtest/gtest.h>

#include "sweeps/plan.h"
#include "sweeps/sweep_file.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

Plan plan_of(const std::string& base, int gpus_per_job, Sweep& keep) {
  keep = load_sweep_text("sweep: p\nbase: " + base + "\ngrid: {seed: [1, 2]}\n", "p.yaml", ".",
                         testing::temp_dir("plan"));
  return make_plan(keep, gpus_per_job);
}

TEST(Plan, CpuJobsArePricedInCpuHours) {
  Sweep s;
  Plan cpu = plan_of("{model: {size: tiny}, train: {steps: 10, device: cpu}}", 1, s);
  EXPECT_EQ(cpu.device(), "cpu");
  EXPECT_NE(render_plan(cpu).find("CPU-h left"), std::string::npos) << render_plan(cpu);
  EXPECT_EQ(plan_json(cpu)["device"], "cpu");
  EXPECT_DOUBLE_EQ(cpu.rows[0].est_hours, estimate_hours(s.jobs[0].cfg, s.options, 0));

  Sweep g;
  Plan gpu = plan_of("{model: {size: tiny}, train: {steps: 10}}", 2, g);
  EXPECT_EQ(gpu.device(), "gpu");
  EXPECT_NE(render_plan(gpu).find("GPU-h left"), std::string::npos) << render_plan(gpu);
  EXPECT_DOUBLE_EQ(gpu.rows[0].est_hours, estimate_hours(g.jobs[0].cfg, g.options, 2));
  EXPECT_EQ(make_plan(g, 0).device(), "cpu");  // `sweep plan --cpu`
}

}  // namespace
}  // namespace gpas::sweeps
