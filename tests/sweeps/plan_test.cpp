// Plans: a sweep's jobs priced in the hours of the device they run on (CPU jobs in CPU-hours).
#include <gtest/gtest.h>

#include <tuple>

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

// `sweep plan` builds its plan job by job as the grid is expanded (load_sweep_each), holding a row
// per job and never the jobs: the same jobs, in the same order, as the expanded sweep's, with
// excludes, includes, overrides and cells merged into one run; a sweep with `@run` references
// (which look other cells up) too. The cost on 10^6 cells: `gpas bench plan --jobs 1000000`.
TEST(Plan, AStreamedPlanIsTheExpandedSweepsPlan) {
  std::string dir = testing::temp_dir("streamed");
  const std::string grid = R"Y(
sweep: st
base: {model: {size: tiny}, data: {source: synthetic}, train: {steps: 10, device: cpu}}
grid:
  method: [post, post+gpas, pre, pre+gpas]
  train.seed: [0, 1]
  train.log_every: [5, 10]
exclude:
  - {method: post+gpas, train.seed: 1}
include:
  - {method: lns, train.seed: 7}
overrides:
  - when: {method: pre+gpas}
    set: {train.gate_grad_clip: 0.01}
)Y";
  const std::string refs = R"Y(
sweep: rf
base: {model: {size: tiny}, data: {source: synthetic}, train: {steps: 10, device: cpu}}
define:
  gates:
    learnable: {model.gpas.learnable: true}
    predefined: {model.gpas.learnable: false, train.fixed_gates_from: "@run(gates=learnable)"}
grid: {method: [pre+gpas], gates: [predefined, learnable], train.seed: [0, 1]}
)Y";
  for (const auto& [file, text, want] : {std::tuple{"grid.yaml", grid, size_t{8}}, std::tuple{"refs.yaml", refs, size_t{4}}}) {
    std::string path = testing::write(dir + "/" + file, text);
    Sweep whole = load_sweep(path, dir + "/w");
    ASSERT_EQ(whole.jobs.size(), want) << file;
    Plan streamed;
    std::vector<Job> seen;
    load_sweep_each(path, dir + "/w", {}, [&](const Sweep& header, Job&& j) {
      if (seen.empty()) streamed = start_plan(header, 0);
      add_job(streamed, j, header.options, {});
      seen.push_back(std::move(j));
    });
    read_states(streamed);
    ASSERT_EQ(seen.size(), whole.jobs.size()) << file;
    for (size_t i = 0; i < seen.size(); ++i) {
      EXPECT_EQ(seen[i].id, whole.jobs[i].id) << file << " " << i;
      EXPECT_EQ(seen[i].name, whole.jobs[i].name) << file << " " << i;
      EXPECT_EQ(seen[i].cell, whole.jobs[i].cell) << file << " " << i;
      EXPECT_EQ(seen[i].depends_on, whole.jobs[i].depends_on) << file << " " << i;
      EXPECT_EQ(seen[i].where, whole.jobs[i].where) << file << " " << i;
      EXPECT_EQ(streamed.name(streamed.rows[i]), whole.jobs[i].name) << file << " " << i;
    }
    Plan full = make_plan(whole, 0);
    EXPECT_EQ(render_plan(streamed), render_plan(full)) << file;
    EXPECT_EQ(plan_json(streamed), plan_json(full)) << file;
  }
}

}  // namespace
}  // namespace gpas::sweeps
