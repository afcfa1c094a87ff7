// Test fixtures for the results store: run directories written the way the trainer writes them
// (config.yaml + journal.jsonl through gpas::Journal), and a small Table 2 workdir.
// Leaves out SQLite: tests ingest these directories through the real Store.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/fs.h"
#include "core/common/journal.h"
#include "core/config/config_yaml.h"
#include "core/config/presets.h"

namespace gpas::results::testing {

inline std::string temp_dir(const std::string& name) {
  std::string d = ::testing::TempDir() + "gpas_results_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline RunConfig config_of(const std::string& size, const std::string& norm, bool gpas,
                           int64_t seed = 0) {
  RunConfig c;
  c.name = size + "-" + norm + (gpas ? "-gpas" : "") + "-s" + std::to_string(seed);
  c.model.size = size;
  if (const SizePreset* p = find_size_preset(size)) {  // as build_config resolves a size
    c.model.hidden = p->hidden;
    c.model.intermediate = p->intermediate;
    c.model.heads = p->heads;
    c.model.layers = p->layers;
  }
  c.model.norm = norm;
  c.model.gpas.enabled = gpas;
  c.train.seed = seed;
  c.train.steps = 100;
  return c;
}

struct FakeRun {
  RunConfig cfg;
  double final_ppl = 0;          // eval/ppl at the last step
  std::string status = "completed";
  int layers = 4;                // probes written for this many layers
};

// Writes <workdir>/runs/<id>/{config.yaml,journal.jsonl}; returns the run dir.
inline std::string write_run(const std::string& workdir, const FakeRun& r) {
  std::string id = run_id(r.cfg);
  std::string dir = workdir + "/runs/" + id;
  make_dirs(dir);
  write_file_atomic(dir + "/config.yaml", to_yaml(r.cfg));
  Journal j(dir + "/journal.jsonl");
  j.write({{"type", "start"}, {"run_id", id}, {"attempt", 1}, {"host", "testhost"}, {"pid", 42},
           {"devices", "cpu"}, {"git_commit", "0123456789ab"}, {"torch_version", "2.1.2"},
           {"config", to_json(r.cfg)}});
  j.status("running", 0);
  const int64_t steps = 100;
  double final_loss = std::log(r.final_ppl > 0 ? r.final_ppl : 1e4);
  for (int64_t s = 10; s <= steps; s += 10) {
    double frac = static_cast<double>(s) / steps;
    double loss = final_loss + 2.0 * (1.0 - frac);
    j.metric(s, "train/loss", loss + 0.05);
    j.metric(s, "train/lr", 1e-3 * (1.0 - 0.9 * frac));
    j.metric(s, "train/grad_norm", 1.0 / (1.0 + frac));
    j.metric(s, "train/tokens_per_s", 1000.0);
    if (s % 50 == 0) {
      j.metric(s, "eval/loss", loss);
      j.metric(s, "eval/ppl", std::exp(loss));
    }
    if (s % 20 == 0 || s == steps) {
      for (int l = 0; l < r.layers; ++l) {
        double g = r.cfg.model.gpas.enabled ? 0.1 * (l + 1) * frac : 0.0;
        j.layer(s, l, "gate", g);
        j.layer(s, l, "act_var", (1.0 + l) * (1.0 + frac) * (r.cfg.model.gpas.enabled ? 0.5 : 1.0));
        j.layer(s, l, "grad_norm", 0.1 / (1.0 + l) + 0.01 * frac);
        j.layer(s, l, "attn_wnorm", 10.0 + l + (r.cfg.model.gpas.enabled ? 1.0 : 0.0));
        j.layer(s, l, "ffn_wnorm", 20.0 + 2 * l);
      }
    }
    j.heartbeat(s);
  }
  for (int l = 0; l < r.layers; ++l) {
    j.layer(steps, l, "importance_loss", 0.5 / (1.0 + l));
    j.layer(steps, l, "importance_ppl", 5.0 / (1.0 + l));
  }
  j.artifact(steps, "checkpoint", dir + "/checkpoints/step_100", 1234);
  if (r.status == "diverged")
    j.status("diverged", steps, "loss is NaN at step 100");
  else
    j.status(r.status, steps);
  return dir;
}

// A workdir for Table 2: two sizes, several seeds, a diverged cell, many missing cells.
inline std::string write_table2_workdir(const std::string& name) {
  std::string wd = temp_dir(name);
  std::vector<FakeRun> runs = {
      {config_of("71m", "pre", false, 0), 34.10},   {config_of("71m", "pre", false, 1), 34.30},
      {config_of("71m", "pre", false, 2), 34.50},   {config_of("71m", "pre", true, 0), 33.40},
      {config_of("71m", "pre", true, 1), 33.60},    {config_of("71m", "post", false, 0), 33.97},
      {config_of("71m", "lns", true, 0), 32.93},    {config_of("71m", "lns", false, 0), 34.70},
      {config_of("71m", "sandwich", false, 0), 32.82},
      {config_of("130m", "pre", false, 0), 26.75},  {config_of("130m", "pre", true, 0), 26.34},
      {config_of("130m", "deepnorm", true, 0), 26.65},
      {config_of("130m", "post", false, 0), 0, "diverged"},
      {config_of("130m", "mix", false, 0), 26.36},  {config_of("130m", "mix", true, 0), 0, "running"},
  };
  for (const auto& r : runs) write_run(wd, r);
  return wd;
}

}  // namespace gpas::results::testing
