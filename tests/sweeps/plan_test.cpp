// Plans: a sweep's jobs priced in the hours of the device they run on (CPU jobs in CPU-hours).
#include <gtest/gtest.h>

#include "core/config/flops.h"
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

// Jobs still to run are priced at the rate the sweep's finished jobs measured (a quickstart job
// priced at 17 min took 4 s), and the FLOPs are core/config/flops.h's.
TEST(Plan, PendingJobsArePricedAtTheMeasuredRate) {
  Sweep s;
  Plan before = plan_of("{model: {size: tiny}, data: {source: synthetic}, train: {steps: 10, device: cpu}}", 0, s);
  RunConfig c = s.jobs[0].cfg;
  ModelConfig m = c.model;
  m.vocab_size = c.data.synthetic_vocab;
  EXPECT_DOUBLE_EQ(train_flops(c), flops_per_token(m, c.train.seq_len) * 10 * c.train.batch_size * c.train.seq_len);
  std::string dir = run_dir_of(s.workdir, s.jobs[0].id);
  testing::write(dir + "/journal.jsonl",
                 "{\"seq\":0,\"type\":\"start\",\"time\":1000.0,\"host\":\"elsewhere\",\"pid\":1}\n"
                 "{\"seq\":1,\"type\":\"status\",\"time\":1004.0,\"status\":\"completed\",\"step\":10}\n");
  Plan after = make_plan(s, 0);
  EXPECT_NEAR(after.rows[0].est_hours * 3600, 4.0, 1e-9);  // measured
  EXPECT_NEAR(after.rows[1].est_hours * 3600, 4.0, 1e-9);  // the same size, at the measured rate
  EXPECT_NE(before.rows[1].est_hours, after.rows[1].est_hours);
}

}  // namespace
}  // namespace gpas::sweeps
