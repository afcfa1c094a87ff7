// The bench cache and the choice of the rate that prices a job (issue 10, case 8): the nearest
// measurement of the job's device kind, this host, precision and thread count first; the sweep's
// own finished jobs before any bench; the nominal rate only without either.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/common/fs.h"
#include "core/config/flops.h"
#include "sweeps/plan.h"
#include "sweeps/sweep_file.h"
#include "sweeps/throughput.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

BenchEntry entry(const std::string& size, double fpt, double flops, const std::string& device = "cpu") {
  BenchEntry e;
  e.host = hostname();
  e.device = device;
  e.threads = worker_threads();
  e.size = size;
  e.norm = "pre";
  e.precision = "fp32";
  e.batch = 8;
  e.seq = 128;
  e.vocab = 512;
  e.flops_per_token = fpt;
  e.flops = flops;
  e.time = 1.7e9;
  return e;
}

Sweep tiny_sweep(const std::string& wd) {
  return load_sweep_text("sweep: r\nbase: {model: {size: tiny}, data: {source: synthetic}, "
                         "train: {steps: 10, device: cpu, batch_size: 8, micro_batch: 8, seq_len: 128}}\n"
                         "grid: {seed: [1, 2]}\n",
                         "r.yaml", ".", wd);
}

double job_fpt(const RunConfig& c) { return flops_per_token(priced_model(c), c.train.seq_len); }

TEST(Throughput, CachePathFollowsTheEnvironment) {
  const char* old_x = std::getenv("XDG_CACHE_HOME");
  const char* old_g = std::getenv("GPAS_CACHE_DIR");
  std::string keep_x = old_x ? old_x : "", keep_g = old_g ? old_g : "";
  ::unsetenv("GPAS_CACHE_DIR");
  ::setenv("XDG_CACHE_HOME", "/x", 1);
  EXPECT_EQ(bench_cache_path(), "/x/gpas/bench.json");
  ::setenv("GPAS_CACHE_DIR", "/g", 1);
  EXPECT_EQ(bench_cache_path(), "/g/bench.json");
  ::unsetenv("GPAS_CACHE_DIR");
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_NE(bench_cache_path().find("/.cache/gpas/bench.json"), std::string::npos);
  if (old_x) ::setenv("XDG_CACHE_HOME", keep_x.c_str(), 1);
  if (old_g) ::setenv("GPAS_CACHE_DIR", keep_g.c_str(), 1);
}

TEST(Throughput, ARecordReplacesTheSameSettingsAndKeepsOthers) {
  std::string path = testing::temp_dir("bench") + "/sub/bench.json";
  EXPECT_TRUE(read_bench_cache(path).empty());
  record_bench(path, entry("tiny", 1e6, 1e9));
  record_bench(path, entry("9m", 4e6, 2e9));
  record_bench(path, entry("tiny", 1e6, 3e9));  // measured again
  auto all = read_bench_cache(path);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].size, "9m");
  EXPECT_EQ(all[1].size, "tiny");
  EXPECT_DOUBLE_EQ(all[1].flops, 3e9);
  testing::write(path, "{not json");
  EXPECT_TRUE(read_bench_cache(path).empty());  // unreadable: ignored, with a warning
  record_bench(path, entry("tiny", 1e6, 1e9));   // and replaced
  EXPECT_EQ(read_bench_cache(path).size(), 1u);
}

TEST(Throughput, NearestMeasurementOfTheJobsDeviceKind) {
  Sweep s = tiny_sweep(testing::temp_dir("near"));
  const RunConfig& c = s.jobs[0].cfg;
  const double fpt = job_fpt(c);
  const std::string here = hostname();
  const int threads = worker_threads();
  std::vector<BenchEntry> cache = {entry("gpu", fpt, 1e14, "NVIDIA H200")};
  EXPECT_EQ(nearest_bench(cache, c, true, here, threads), nullptr);  // a GPU never prices a CPU job
  EXPECT_EQ(nearest_bench(cache, c, false, here, threads), &cache[0]);

  BenchEntry far = entry("far", fpt * 30, 5e9), near = entry("near", fpt * 1.5, 4e9);
  BenchEntry other_host = entry("host", fpt, 1e9);
  other_host.host = "elsewhere";
  BenchEntry bf16 = entry("bf16", fpt, 1e9);
  bf16.precision = "bf16";
  BenchEntry one_thread = entry("threads", fpt, 1e9);
  one_thread.threads = threads + 1;
  cache = {far, other_host, bf16, one_thread, near};
  EXPECT_EQ(nearest_bench(cache, c, true, here, threads)->size, "near");  // nearest FLOPs per token
  cache = {other_host, bf16, one_thread};
  EXPECT_EQ(nearest_bench(cache, c, true, here, threads)->size, "threads");  // precision before threads
  cache = {other_host, bf16};
  EXPECT_EQ(nearest_bench(cache, c, true, here, threads)->size, "bf16");  // this host first
  cache = {other_host};
  EXPECT_EQ(nearest_bench(cache, c, true, here, threads)->size, "host");  // better than nothing
  BenchEntry newer = entry("newer", fpt, 2e9);
  newer.time += 100;
  cache = {entry("older", fpt, 1e9), newer};
  EXPECT_EQ(nearest_bench(cache, c, true, here, threads)->size, "newer");
}

TEST(Throughput, JobRateSaysWhereItCameFrom) {
  Sweep s = tiny_sweep(testing::temp_dir("rate"));
  const RunConfig& c = s.jobs[0].cfg;
  Rate nominal = job_rate({}, c, s.options, true);
  EXPECT_EQ(nominal.from, Rate::From::Nominal);
  EXPECT_DOUBLE_EQ(nominal.flops, s.options.cpu_gflops * 1e9);
  EXPECT_NE(nominal.source.find("nominal"), std::string::npos) << nominal.source;
  EXPECT_FALSE(nominal.exact);
  EXPECT_DOUBLE_EQ(job_rate({}, c, s.options, false).flops, s.options.gpu_tflops * 1e12);

  std::vector<BenchEntry> cache = {entry("tiny", job_fpt(c), 2.5e9)};
  Rate measured = job_rate(cache, c, s.options, true);
  EXPECT_EQ(measured.from, Rate::From::Bench);
  EXPECT_DOUBLE_EQ(measured.flops, 2.5e9);
  EXPECT_TRUE(measured.exact);  // tiny fp32 8x128: the job's shape
  EXPECT_NE(measured.source.find("measured by `gpas bench train` on 2023-11-14"), std::string::npos)
      << measured.source;
  cache[0].size = "9m";
  EXPECT_FALSE(job_rate(cache, c, s.options, true).exact);

  EXPECT_EQ(calibrate_command(c, true),
            "gpas bench train --device cpu --size tiny --batch 8 --seq 128 --vocab " +
                std::to_string(priced_model(c).vocab_size) + " --precision fp32 --steps 10 --warmup 2");
  EXPECT_NE(calibrate_command(c, false).find("--device cuda"), std::string::npos);
}

TEST(Throughput, PlanPricesAtTheBenchUntilTheSweepMeasuresItsOwn) {
  Sweep s = tiny_sweep(testing::temp_dir("plan"));
  std::vector<BenchEntry> cache = {entry("tiny", job_fpt(s.jobs[0].cfg), 2e9)};
  Plan nominal = make_plan(s, 0);
  Plan benched = make_plan(s, 0, cache);
  EXPECT_DOUBLE_EQ(benched.rows[1].est_hours, train_flops(s.jobs[1].cfg) / 2e9 / 3600);
  EXPECT_NEAR(nominal.rows[1].est_hours / benched.rows[1].est_hours, 2e9 / (s.options.cpu_gflops * 1e9), 1e-9);
  EXPECT_NEAR(planned_seconds_per_flop(benched), 1 / 2e9, 1e-21);
  EXPECT_EQ(planned_seconds_per_flop(nominal), 0);  // no live ETA from a guess
  std::string text = render_plan(nominal);
  EXPECT_NE(text.find("estimates of 2 job(s) to run: nominal"), std::string::npos) << text;
  EXPECT_NE(text.find("calibrate on this machine: gpas bench train --device cpu --size tiny"), std::string::npos)
      << text;
  text = render_plan(benched);
  EXPECT_NE(text.find("measured by `gpas bench train`"), std::string::npos) << text;
  EXPECT_EQ(text.find("calibrate"), std::string::npos) << text;  // exact: nothing to calibrate
  EXPECT_EQ(plan_json(benched)["jobs"][0]["rate_flops"], 2e9);

  // One job finished in 4 s: the other is priced at that rate, which includes what a bench
  // leaves out (start-up, data, evaluation).
  testing::write(run_dir_of(s.workdir, s.jobs[0].id) + "/journal.jsonl",
                 "{\"seq\":0,\"type\":\"start\",\"time\":1000.0,\"host\":\"elsewhere\",\"pid\":1}\n"
                 "{\"seq\":1,\"type\":\"status\",\"time\":1004.0,\"status\":\"completed\",\"step\":10}\n");
  Plan after = make_plan(s, 0, cache);
  EXPECT_EQ(after.rate(after.rows[1]).from, Rate::From::Sweep);
  EXPECT_NEAR(after.rows[1].est_hours * 3600, 4.0, 1e-9);
  EXPECT_NE(render_plan(after).find("finished or running CPU job(s) of this sweep"), std::string::npos);
}

TEST(Throughput, AResumedJobPricesTheRestByItsLastAttempt) {
  // Killed at step 5 and resumed an hour later: its last attempt trained 5 steps in 4 s, so the
  // job not started is priced at 10 steps x 0.8 s, not at the hour between the attempts.
  Sweep s = tiny_sweep(testing::temp_dir("resumed"));
  std::vector<BenchEntry> cache = {entry("tiny", job_fpt(s.jobs[0].cfg), 1e12)};
  testing::write(run_dir_of(s.workdir, s.jobs[0].id) + "/journal.jsonl",
                 "{\"seq\":0,\"type\":\"start\",\"time\":1000.0,\"host\":\"elsewhere\",\"pid\":1}\n"
                 "{\"seq\":1,\"type\":\"metric\",\"time\":1004.0,\"step\":5,\"key\":\"train/loss\",\"value\":5}\n"
                 "{\"seq\":2,\"type\":\"start\",\"time\":4600.0,\"host\":\"elsewhere\",\"pid\":2,"
                 "\"resumed_from_step\":5}\n"
                 "{\"seq\":3,\"type\":\"status\",\"time\":4604.0,\"status\":\"completed\",\"step\":10}\n");
  Plan p = make_plan(s, 0, cache);
  ASSERT_EQ(p.rows[0].info.state, State::Completed);
  EXPECT_NEAR(p.rows[0].est_hours * 3600, 3604.0, 1e-6);  // its own row: the wall time it took
  EXPECT_NEAR(p.rows[1].est_hours * 3600, 8.0 * train_flops(s.jobs[1].cfg) / train_flops(s.jobs[0].cfg), 1e-6);

  // Diverged at step 4 after 2 s: 0.5 s a step, not 10 steps in 2 s.
  testing::write(run_dir_of(s.workdir, s.jobs[0].id) + "/journal.jsonl",
                 "{\"seq\":0,\"type\":\"start\",\"time\":1000.0,\"host\":\"elsewhere\",\"pid\":1}\n"
                 "{\"seq\":1,\"type\":\"status\",\"time\":1002.0,\"status\":\"diverged\",\"step\":4}\n");
  p = make_plan(s, 0, cache);
  ASSERT_EQ(p.rows[0].info.state, State::Diverged);
  EXPECT_NEAR(p.rows[1].est_hours * 3600, 5.0 * train_flops(s.jobs[1].cfg) / train_flops(s.jobs[0].cfg), 1e-6);

  // Killed after its last step, resumed an hour later only to evaluate: it measures nothing, so the
  // other job keeps the bench's price.
  testing::write(run_dir_of(s.workdir, s.jobs[0].id) + "/journal.jsonl",
                 "{\"seq\":0,\"type\":\"start\",\"time\":1000.0,\"host\":\"elsewhere\",\"pid\":1}\n"
                 "{\"seq\":1,\"type\":\"metric\",\"time\":1004.0,\"step\":10,\"key\":\"train/loss\",\"value\":5}\n"
                 "{\"seq\":2,\"type\":\"start\",\"time\":4600.0,\"host\":\"elsewhere\",\"pid\":2,"
                 "\"resumed_from_step\":10}\n"
                 "{\"seq\":3,\"type\":\"status\",\"time\":4601.0,\"status\":\"completed\",\"step\":10}\n");
  p = make_plan(s, 0, cache);
  ASSERT_EQ(p.rows[0].info.state, State::Completed);
  EXPECT_NE(p.rate(p.rows[1]).from, Rate::From::Sweep);
}

TEST(Throughput, RunningJobsPriceTheRestAtTheirMeasuredStepTime) {
  // A job resumed at step 2, at step 6 eight seconds later (2 s a step, the bench said 0.01 s):
  // it has 4 steps left (8 s), and the job not started is priced at 10 steps x 2 s. A trainer on
  // another host with a fresh journal counts as running.
  Sweep s = tiny_sweep(testing::temp_dir("running"));
  std::vector<BenchEntry> cache = {entry("tiny", job_fpt(s.jobs[0].cfg), 1e12)};
  testing::write(run_dir_of(s.workdir, s.jobs[0].id) + "/journal.jsonl",
                 "{\"seq\":0,\"type\":\"start\",\"time\":1000.0,\"host\":\"elsewhere\",\"pid\":1,"
                 "\"resumed_from_step\":2}\n"
                 "{\"seq\":1,\"type\":\"metric\",\"time\":1008.0,\"step\":6,\"key\":\"train/loss\",\"value\":5}\n");
  Plan p = make_plan(s, 0, cache);
  ASSERT_EQ(p.rows[0].info.state, State::Running);
  EXPECT_EQ(p.rate(p.rows[0]).from, Rate::From::Sweep);
  EXPECT_NEAR(p.rows[0].left_hours * 3600, 8.0, 1e-6);
  EXPECT_NEAR(p.rows[1].est_hours * 3600, 20.0 * train_flops(s.jobs[1].cfg) / train_flops(s.jobs[0].cfg), 1e-6);
  EXPECT_NE(render_plan(p).find("the rate 1 finished or running CPU job(s) of this sweep measured"), std::string::npos)
      << render_plan(p);
}

}  // namespace
}  // namespace gpas::sweeps
