// Sweep files -> job lists: product order, zip, include/exclude, shorthands and their overrides,
// @run references, identity stability, and the experiments/ files.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/config/config_yaml.h"
#include "sweeps/sweep_file.h"
#include "tests/common/nested_aliases.h"
#include "test_util.h"

namespace gpas::sweeps {
namespace {

using testing::temp_dir;
using testing::write;

Sweep load(const std::string& yaml, const std::string& workdir = "w") {
  return load_sweep_text(yaml, "s.yaml", ".", workdir);
}

std::vector<std::string> names(const Sweep& s) {
  std::vector<std::string> out;
  for (const auto& j : s.jobs) out.push_back(j.name);
  return out;
}

// A grid of 10^6 cells is refused with its size before it is expanded (it used to grow past 7 GB);
// options.max_jobs raises the bound for a sweep that means it.
TEST(Grid, AGridAboveMaxJobsIsRefusedBeforeExpanding) {
  std::string axis = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
  std::string grid = "grid:\n";
  for (const char* k : {"train.seed", "data.seed", "data.eval_seed", "train.steps", "train.log_every", "train.eval_every"})
    grid += std::string("  ") + k + ": " + axis + "\n";
  try {
    load("sweep: big\nbase: {model: {size: tiny}}\n" + grid);
    FAIL() << "a 10^6-cell grid was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expands to 1000000 jobs, more than options.max_jobs (100000)"),
              std::string::npos) << e.what();
  }
  Sweep small = load("sweep: s\nbase: {model: {size: tiny}}\ngrid:\n  train.seed: [0, 1, 2]\n"
                     "options: {max_jobs: 3}\n");
  EXPECT_EQ(small.jobs.size(), 3u);
  EXPECT_THROW(load("sweep: s\nbase: {model: {size: tiny}}\ngrid:\n  train.seed: [0, 1, 2]\n"
                    "options: {max_jobs: 2}\n"), Error);
}

TEST(Grid, CartesianProductInAxisOrder) {
  Sweep s = load(R"Y(
sweep: t
base: {model: {size: tiny}, train: {steps: 5}}
grid:
  method: [pre, pre+gpas]
  train.seed: [0, 1, 2]
)Y");
  EXPECT_EQ(names(s), (std::vector<std::string>{"t/pre/seed=0", "t/pre/seed=1", "t/pre/seed=2",
                                                "t/pre+gpas/seed=0", "t/pre+gpas/seed=1",
                                                "t/pre+gpas/seed=2"}));
  EXPECT_FALSE(s.jobs[0].cfg.model.gpas.enabled);
  EXPECT_TRUE(s.jobs[3].cfg.model.gpas.enabled);
  EXPECT_EQ(s.jobs[2].cfg.train.seed, 2);
  std::set<std::string> ids;
  for (const auto& j : s.jobs) ids.insert(j.id);
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(s.jobs[0].cfg.name, "t/pre/seed=0");
}

TEST(Grid, ZipVariesTogether) {
  Sweep s = load(R"Y(
sweep: z
grid: {norm: [pre, mix]}
zip:
  - train.lr: [1e-3, 5e-4]
    train.warmup_steps: [10, 20]
)Y");
  ASSERT_EQ(s.jobs.size(), 4u);
  EXPECT_EQ(s.jobs[1].name, "z/pre/lr=5e-4/warmup_steps=20");
  EXPECT_DOUBLE_EQ(s.jobs[1].cfg.train.lr, 5e-4);
  EXPECT_EQ(s.jobs[1].cfg.train.warmup_steps, 20);
}

TEST(Grid, SizeShorthandSetsTable1AndMixSetsPostLayers) {
  Sweep s = load(R"Y(
sweep: t
grid: {size: [71m, 350m], norm: [mix]}
)Y");
  ASSERT_EQ(s.jobs.size(), 2u);
  const auto& a = s.jobs[0].cfg;
  EXPECT_EQ(a.model.layers, 12);
  EXPECT_EQ(a.model.post_layers, 3);
  EXPECT_DOUBLE_EQ(a.train.lr, 1e-3);
  EXPECT_EQ(a.train.steps, 10000);
  EXPECT_EQ(a.train.warmup_steps, 1000);
  const auto& b = s.jobs[1].cfg;
  EXPECT_EQ(b.model.hidden, 1024);
  EXPECT_EQ(b.model.post_layers, 6);
  EXPECT_DOUBLE_EQ(b.train.lr, 5e-4);
  EXPECT_EQ(b.train.steps, 60000);
  EXPECT_EQ(b.train.warmup_steps, 6000);
}

TEST(Grid, IncludeExcludeAndOverrides) {
  Sweep s = load(R"Y(
sweep: t
grid: {method: [post, post+gpas, pre, pre+gpas]}
exclude:
  - {method: post+gpas}
include:
  - {method: lns, train.seed: 7}
overrides:
  - when: {method: pre+gpas}
    set: {train.gate_grad_clip: 0.01}
)Y");
  EXPECT_EQ(names(s), (std::vector<std::string>{"t/post", "t/pre", "t/pre+gpas", "t/lns"}));
  EXPECT_DOUBLE_EQ(s.jobs[2].cfg.train.gate_grad_clip, 0.01);
  EXPECT_DOUBLE_EQ(s.jobs[1].cfg.train.gate_grad_clip, 0.0);
  EXPECT_EQ(s.jobs[3].cfg.train.seed, 7);
  EXPECT_EQ(s.jobs[3].cfg.model.norm, "lns");
}

TEST(Grid, DefinedAxisAndRunReferenceMakeADependency) {
  Sweep s = load(R"Y(
sweep: g
define:
  gates:
    learnable: {model.gpas.learnable: true}
    predefined: {model.gpas.learnable: false, train.fixed_gates_from: "@run(gates=learnable)"}
grid: {method: [pre+gpas], gates: [predefined, learnable]}
)Y", "/tmp/wd");
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].name, "g/pre+gpas/learnable");  // dependencies first
  EXPECT_EQ(s.jobs[1].depends_on, s.jobs[0].id);
  EXPECT_EQ(s.jobs[1].cfg.train.fixed_gates_from, "run:" + s.jobs[0].id);
  EXPECT_FALSE(s.jobs[1].cfg.model.gpas.learnable);
}

TEST(Grid, IdentityIsStableAndSurvivesTheYamlRoundTrip) {
  const char* yaml = "sweep: t\nbase: {model: {size: tiny}, train: {steps: 5}}\ngrid: {method: [pre, pre+gpas]}\n";
  Sweep a = load(yaml);
  Sweep b = load(std::string(yaml) + "# a comment changes nothing\n");
  ASSERT_EQ(a.jobs.size(), b.jobs.size());
  for (size_t i = 0; i < a.jobs.size(); ++i) EXPECT_EQ(a.jobs[i].id, b.jobs[i].id);
  // The worker reads the resolved YAML back; its run_id must be the job's.
  std::string dir = temp_dir("roundtrip");
  for (const auto& j : a.jobs) {
    std::string p = write(dir + "/" + j.id + ".yaml", to_yaml(j.cfg));
    EXPECT_EQ(run_id(load_run_config(p)), j.id);
  }
  // The same config written directly gives the same id: the name is not part of it.
  Sweep c = load("sweep: other\nbase: {model: {size: tiny}, train: {steps: 5}}\ninclude: [{method: pre}]\n");
  EXPECT_EQ(c.jobs[0].id, a.jobs[0].id);
  // Pinned: an accidental change of identities (which would rerun every finished cell) fails here.
  EXPECT_EQ(a.jobs[0].id.size(), 12u);
}

// A run's identity leaves out what does not change its result (log_every, checkpointing, device,
// fused kernels): a cell that differs only there is the same run. The ids are pinned (computed by
// the binary before the change, 8b64a9c): the cell without those keys kept its id, and the old id
// of the cell with them is legacy_run_id. A directory made under the old id is found by it (not
// trained again); where both exist the new one is taken.
TEST(Grid, IdentityLeavesOutHowARunIsRunAndFindsDirectoriesMadeBefore) {
  const std::string plain = "sweep: pin\nbase:\n  model: {size: tiny}\n  data: {source: synthetic}\n"
                            "  train: {steps: 10}\ngrid:\n  seed: [0]\n";
  const std::string knobs = "sweep: pin\nbase:\n  model: {size: tiny}\n  data: {source: synthetic}\n"
                            "  train: {steps: 10, log_every: 20, device: cpu, checkpoint_every: 5}\ngrid:\n  seed: [0]\n";
  std::string wd = temp_dir("legacy-ids");
  Sweep a = load(plain, wd), b = load(knobs, wd);
  EXPECT_EQ(a.jobs[0].id, "c7a4e8c61339");
  EXPECT_EQ(b.jobs[0].id, "c7a4e8c61339");
  EXPECT_EQ(legacy_run_id(b.jobs[0].cfg), "89b8bcd9c61c");
  EXPECT_EQ(legacy_run_id(a.jobs[0].cfg), "c7a4e8c61339");
  write(wd + "/runs/89b8bcd9c61c/config.yaml", to_yaml(b.jobs[0].cfg));
  EXPECT_EQ(load(knobs, wd).jobs[0].id, "89b8bcd9c61c");
  EXPECT_EQ(run_id_of_dir(wd + "/runs/89b8bcd9c61c", b.jobs[0].cfg), "89b8bcd9c61c");
  EXPECT_EQ(run_id_of_dir(wd + "/runs/89b8bcd9c61c/", b.jobs[0].cfg), "89b8bcd9c61c");
  EXPECT_EQ(run_id_of_dir(wd + "/runs/elsewhere", b.jobs[0].cfg), "c7a4e8c61339");
  write(wd + "/runs/c7a4e8c61339/config.yaml", to_yaml(a.jobs[0].cfg));
  EXPECT_EQ(load(knobs, wd).jobs[0].id, "c7a4e8c61339");
  // Two cells that differ only in such a key are one job.
  Sweep m = load("sweep: pin\nbase: {model: {size: tiny}, train: {steps: 10}}\ngrid: {train.log_every: [5, 10]}\n", wd);
  EXPECT_EQ(m.jobs.size(), 1u);
  // What does change the result still changes the id.
  EXPECT_NE(load("sweep: pin\nbase: {model: {size: tiny}, train: {steps: 10, lr: 2.0e-3}}\ngrid: {seed: [0]}\n", wd).jobs[0].id,
            a.jobs[0].id);
}

TEST(Grid, EditingAGridKeepsTheIdentitiesOfUnchangedCells) {
  Sweep a = load("sweep: t\ngrid: {method: [pre, pre+gpas]}\n");
  Sweep b = load("sweep: t\ngrid: {method: [pre, pre+gpas, lns]}\n");
  EXPECT_EQ(a.jobs[0].id, b.jobs[0].id);
  EXPECT_EQ(a.jobs[1].id, b.jobs[1].id);
}

TEST(Grid, ExtendsReadsRunConfigsBesideTheSweepFile) {
  std::string dir = temp_dir("extends");
  write(dir + "/presets/cpu.yaml", "train:\n  steps: 17\n  device: cpu\n");
  write(dir + "/s.yaml", "sweep: e\nextends: presets/cpu.yaml\nbase: {train: {seed: 3}}\ngrid: {gpas: [false, true]}\n");
  Sweep s = load_sweep(dir + "/s.yaml", dir);
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0].cfg.train.steps, 17);
  EXPECT_EQ(s.jobs[0].cfg.train.seed, 3);
  EXPECT_EQ(s.jobs[1].name, "e/true");
}

TEST(Grid, SetsApplyToEveryJobLast) {
  Sweep s = load_sweep_text("sweep: t\ngrid: {size: [71m]}\n", "s.yaml", ".", "w", {"train.steps=3"});
  EXPECT_EQ(s.jobs[0].cfg.train.steps, 3);
}

std::string error_of(const std::string& yaml) {
  try {
    load(yaml);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GridErrors, EveryBadFileNamesFileAndLine) {
  EXPECT_EQ(error_of("sweep: t\ngrid:\n  model.hiden: [1, 2]\n").substr(0, 9), "s.yaml:3:");
  EXPECT_NE(error_of("sweep: t\ngrid:\n  model.hiden: [1, 2]\n").find("unknown key 'model.hiden'"), std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid:\n  method: [pre, prenorm]\n").find("s.yaml:3: method: unknown scheme 'prenorm'"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid:\n  model.norm: [pre, foo]\n").find("s.yaml:3: model.norm: unknown value 'foo'"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\nzip:\n  - train.lr: [1, 2]\n    train.seed: [1, 2, 3]\n")
                .find("s.yaml:4: zip: 'train.seed' has 3 values but 'train.lr' has 2"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {method: [pre]}\nexclude:\n  - {method: post}\n")
                .find("s.yaml:4: this exclude matches no job"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {method: [pre]}\noverrides:\n  - when: {method: post}\n    set: {train.lr: 1}\n")
                .find("s.yaml:4: this override's `when` matches no job"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrd: {}\n").find("s.yaml:2: unknown section 'grd'"), std::string::npos);
  EXPECT_NE(error_of("sweep: t\nbase: {train: {stepz: 3}}\ngrid: {seed: [1]}\n").find("s.yaml:2: unknown key 'train.stepz'"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {size: [70m]}\n").find("s.yaml:2: size: unknown size '70m'"), std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {train.steps: [0]}\n").find("s.yaml:2: train.steps: must be positive"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {seed: []}\n").find("s.yaml:2:"), std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {seed: [1]}\noptions: {retries: 2}\n").find("s.yaml:3: unknown option 'retries'"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {seed: [1]}\nexclude: [{sede: 1}]\n").find("s.yaml:3: unknown key 'sede'"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {seed: [1]}\ninclude: [{train.fixed_gates_from: '@run(seed=2)'}]\n")
                .find("s.yaml:3:"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {seed: [1, 2]\n").find("s.yaml:"), std::string::npos);  // bad YAML
}

// The sweep's name names its lock and record files: ".", "..", control characters (a newline
// included) and invalid UTF-8 are refused, from `sweep:` and from the file's name alike.
TEST(GridErrors, SweepNamesThatCannotNameFilesAreRefused) {
  for (const char* bad : {"'.'", "'..'", "\"a\\nb\"", "\"a\\tb\"", "\"a\\x01\"", "a/b", "''"}) {
    std::string e = error_of(std::string("sweep: ") + bad + "\ngrid: {seed: [1]}\n");
    EXPECT_EQ(e.rfind("s.yaml:1: sweep: ", 0), 0u) << bad << ": " << e;
    EXPECT_NE(e.find("give the sweep another name"), std::string::npos) << bad << ": " << e;
  }
  for (const char* bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80"}) {  // bytes, overlong, surrogate
    std::string e = error_of(std::string("sweep: \"") + bad + "\"\ngrid: {seed: [1]}\n");
    EXPECT_NE(e.find("not valid UTF-8"), std::string::npos) << e;
  }
  for (const char* good : {"table2-cpu_lr.3", "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80"})  // é, €, an emoji
    EXPECT_EQ(load(std::string("sweep: \"") + good + "\"\ngrid: {seed: [1]}\n").name, good);
  // From the file's name, and in sweep_name_of (which finds a sweep's records before expanding).
  std::string dir = temp_dir("names");
  std::string dots = write(dir + "/...yaml", "grid: {seed: [1]}\n");
  try {
    load_sweep(dots, "w");
    ADD_FAILURE() << "a file named ...yaml gave its sweep the name '..'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add `sweep: NAME` or rename the file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sweep_name_of(write(dir + "/nl.yaml", "sweep: \"x\\ny\"\n")), Error);
}

// A --set on a key an axis names used to turn a 4-job grid into 2 jobs named after axis values
// they no longer had; size's Table 1 recipe (train.steps, ...) stays open to --set.
TEST(GridErrors, SetOnAnAxisKeyIsRefused) {
  const std::string yaml = "sweep: t\ngrid:\n  method: [pre, pre+gpas]\n  seed: [1, 2]\n";
  try {
    load_sweep_text(yaml, "mine.yaml", ".", "w", {"model.gpas.enabled=yes"});
    ADD_FAILURE() << "not refused";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m.rfind("--set model.gpas.enabled: the sweep's axis 'method' (mine.yaml:3)", 0), 0u) << m;
    EXPECT_NE(m.find("Edit the axis in mine.yaml"), std::string::npos) << m;
    EXPECT_EQ(e.exit_code(), kExitUsage);
  }
  EXPECT_THROW(load_sweep_text(yaml, "mine.yaml", ".", "w", {"train.seed=3"}), Error);
  EXPECT_THROW(load_sweep_text("sweep: t\ngrid: {train.lr: [1e-3, 2e-3]}\n", "s.yaml", ".", "w", {"train.lr=1e-4"}),
               Error);
  EXPECT_THROW(load_sweep_text("sweep: t\ndefine:\n  arm: {a: {train.lr: 1}, b: {train.lr: 2}}\n"
                               "grid: {arm: [a, b]}\n", "s.yaml", ".", "w", {"train.lr=3"}),
               Error);
  EXPECT_THROW(load_sweep_text("sweep: t\ngrid: {seed: [1]}\ninclude: [{method: pre}]\n", "s.yaml", ".", "w",
                               {"model.norm=post"}),
               Error);
  // Keys no axis names are free, the size recipe's included.
  EXPECT_EQ(load_sweep_text(yaml, "mine.yaml", ".", "w", {"train.steps=3"}).jobs.size(), 4u);
  Sweep sized = load_sweep_text("sweep: t\ngrid: {size: [71m, 130m]}\n", "s.yaml", ".", "w", {"train.steps=3"});
  ASSERT_EQ(sized.jobs.size(), 2u);
  EXPECT_EQ(sized.jobs[1].cfg.train.steps, 3);
}

// A sweep file of nested aliases is refused at once (it took 92 s), and so is `.inf` in options.
TEST(GridErrors, AliasBombsAndNonFiniteOptionsAreRefused) {
  std::string yaml = gpas::testing::nested_aliases() + "sweep: t\nbase: {train.steps: 3}\ngrid: {seed: [1, 2]}\n";
  auto t0 = std::chrono::steady_clock::now();
  std::string e = error_of(yaml);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  EXPECT_NE(e.find("expand to more than"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("s.yaml:", 0), 0u) << e;
  EXPECT_NE(error_of("sweep: t\ngrid: {seed: [1]}\noptions: {heartbeat_timeout: .inf}\n")
                .find("s.yaml:3: options.heartbeat_timeout: expected a finite number"),
            std::string::npos);
  EXPECT_NE(error_of("sweep: t\ngrid: {train.lr: [1e-3, .nan]}\n").find("s.yaml:2: train.lr: expected a finite number"),
            std::string::npos);
}

TEST(Experiments, ShippedSweepsExpand) {
  std::string dir = std::string(GPAS_SOURCE_DIR) + "/experiments/";
  Sweep t2 = load_sweep(dir + "table2.yaml", "w");
  EXPECT_EQ(t2.jobs.size(), 5u * 11u);
  Sweep q = load_sweep(dir + "quickstart.yaml", "w");
  EXPECT_GE(q.jobs.size(), 2u);
  for (const auto& j : q.jobs) EXPECT_EQ(j.cfg.data.source, "brown");
  Sweep ab = load_sweep(dir + "ablations.yaml", "w");
  EXPECT_GE(ab.jobs.size(), 10u);
  // Table 2 on a CPU: 2 depths x 8 methods x 3 seeds. Its learning-rate scan's cells at the rate
  // table2-cpu uses are table2-cpu's own cells (same id), as the scan's header promises.
  Sweep cpu = load_sweep(dir + "table2-cpu.yaml", "w");
  EXPECT_EQ(cpu.jobs.size(), 48u);
  std::set<std::string> ids;
  for (const auto& j : cpu.jobs) {
    ids.insert(j.id);
    EXPECT_EQ(j.cfg.data.source, "brown");
    EXPECT_EQ(j.cfg.train.device, "cpu");
  }
  Sweep lr = load_sweep(dir + "table2-cpu-lr.yaml", "w");
  ASSERT_EQ(lr.jobs.size(), 6u);
  int shared = 0;
  for (const auto& j : lr.jobs) shared += ids.count(j.id) ? 1 : 0;
  EXPECT_EQ(shared, 2);  // Pre-LN and Pre + GPAS, 16 layers, seed 0, at table2-cpu's rate
  for (const auto& j : q.jobs) EXPECT_EQ(j.cfg.model.layers, 16);
  // Every scheme on a CPU: its scan, DyT's alpha scan, and the table at each scheme's scanned rate
  // (GPAS keeping its scheme's rate and recipe), five seeds a method.
  EXPECT_EQ(load_sweep(dir + "schemes-cpu-lr.yaml", "w").jobs.size(), 13u * 5u + 3u);
  Sweep dyt = load_sweep(dir + "dyt-alpha-cpu.yaml", "w");
  ASSERT_EQ(dyt.jobs.size(), 18u);
  for (const auto& j : dyt.jobs) {
    EXPECT_EQ(j.cfg.model.dyt.alpha_final, j.cfg.model.dyt.alpha_mlp);
    EXPECT_EQ(j.cfg.model.embed_std, 0.02);
  }
  Sweep schemes = load_sweep(dir + "schemes-cpu.yaml", "w");
  ASSERT_EQ(schemes.jobs.size(), 13u * 2u * 5u);
  std::map<std::string, std::set<double>> rates;
  std::map<std::string, int> runs;
  for (const auto& j : schemes.jobs) {
    rates[j.cfg.model.norm].insert(j.cfg.train.lr);
    ++runs[j.cfg.model.norm + (j.cfg.model.gpas.enabled ? "+gpas" : "")];
    EXPECT_EQ(j.cfg.model.layers, 16);
    EXPECT_EQ(j.cfg.train.steps, 600);
  }
  EXPECT_EQ(rates.size(), 13u);
  for (const auto& [norm, r] : rates) EXPECT_EQ(r.size(), 1u) << norm << ": one rate, with GPAS or not";
  for (const auto& [method, n] : runs) EXPECT_EQ(n, 5) << method;
  EXPECT_EQ(*rates["pre"].begin(), 8e-3);
  EXPECT_EQ(*rates["lns"].begin(), 3.2e-2);
}

}  // namespace
}  // namespace gpas::sweeps
