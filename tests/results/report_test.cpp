// Reports from a fixture workdir: Table 2 against golden Markdown and LaTeX (multiple seeds, a
// diverged cell, missing cells, an unfinished run), CSV, --compare-paper, byte stability,
// the ablation tables and the pivot. GPAS_UPDATE_GOLDEN=1 rewrites the golden files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/paper_tables.h"
#include "results/reports.h"
#include "results/text_output.h"
#include "tests/results/fixture.h"

namespace gpas::results {
namespace {

using testing::config_of;
using testing::write_run;

std::string golden_path(const std::string& name) {
  return std::string(GPAS_SOURCE_DIR) + "/tests/results/golden/" + name;
}

void expect_golden(const std::string& name, const std::string& actual) {
  if (std::getenv("GPAS_UPDATE_GOLDEN")) {
    write_file_atomic(golden_path(name), actual);
    GTEST_SKIP() << "rewrote " << golden_path(name);
  }
  EXPECT_EQ(actual, read_file(golden_path(name))) << "differs from " << golden_path(name)
                                                  << " (GPAS_UPDATE_GOLDEN=1 rewrites it)";
}

class Table2Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workdir_ = new std::string(testing::write_table2_workdir("table2"));
    Store::open(db_path_for(*workdir_))->ingest_workdir(*workdir_);
  }
  static void TearDownTestSuite() { delete workdir_; }
  std::unique_ptr<Store> store() { return Store::open(db_path_for(*workdir_), true); }
  static std::string* workdir_;
};
std::string* Table2Test::workdir_ = nullptr;

TEST_F(Table2Test, MarkdownGolden) { expect_golden("table2.md", report_table2(*store(), {}, "md")); }

TEST_F(Table2Test, LatexGolden) { expect_golden("table2.tex", report_table2(*store(), {}, "latex")); }

// One row per scheme that has runs: DeepNorm's only run is with GPAS, Mix + GPAS's is running.
TEST_F(Table2Test, SchemesOneRowEach) {
  expect_golden("schemes.md", report_schemes(*store(), {}, "md"));
  auto t = schemes_table(collect_table2(*store(), {}), {});
  ASSERT_EQ(t.header.size(), 8u);
  EXPECT_EQ(t.header[2], "71m without GPAS");
  std::vector<std::string> names;
  for (const auto& row : t.rows) names.push_back(row[0].text);
  EXPECT_EQ(names, (std::vector<std::string>{"Post-LN", "DeepNorm", "Pre-LN", "Sandwich-LN", "Mix-LN", "LNS"}));
  EXPECT_EQ(t.rows[2][4].text, "-0.70 [-0.70, -0.70]*");  // Pre-LN at 71m, paired over 2 seeds
  EXPECT_EQ(t.rows[2][3].em, Emphasis::kSecond);  // Pre + GPAS at 71m, after LNS + GPAS
  EXPECT_EQ(t.rows[2][4].em, Emphasis::kNone);    // a change is not ranked
  EXPECT_EQ(t.rows[1][6].text, "26.65");                  // DeepNorm + GPAS at 130m, no base run
  EXPECT_EQ(t.rows[1][7].text, "");
  // The CSV: the numbers, one line per (scheme, size).
  std::string csv = report_schemes(*store(), {}, "csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "scheme,size,lr,lr_gpas,mean,std,n,mean_gpas,std_gpas,n_gpas,change,change_n,change_lo,change_hi");
  EXPECT_NE(csv.find("\nPre-LN,71m,0.001,0.001,34.3000,0.2000,3,33.5000,0.1414,2,-0.7000,2,-0.7000,-0.7000\n"),
            std::string::npos) << csv;
  EXPECT_NE(csv.find("\nDeepNorm,130m,,0.001,,,0,26.6500,,1,,0,,\n"), std::string::npos) << csv;
}

// Built by hand: a QK-norm variant pairs with its own GPAS row, a scheme whose only runs have GPAS
// gets a row, and arms at different learning rates say so.
TEST(SchemesTable, PairsQkVariantsAndSaysTheLearningRates) {
  Table2Data d;
  d.sizes = {"9m"};
  auto cell = [&](const std::string& method, std::map<int64_t, double> by_seed, const std::string& lr) {
    CellRuns c;
    for (auto [seed, v] : by_seed) c.values.push_back(v), c.by_seed[seed] = v;
    d.cells[{method, "9m"}] = c;
    d.lr[{method, "9m"}] = lr;
    d.methods.push_back(method);
  };
  cell("Pre + GPAS + QK-norm", {{0, 10}, {1, 12}}, "0.004");
  cell("Peri-LN + GPAS", {{0, 30}}, "0.002");
  cell("Pre-LN", {{0, 20}, {1, 22}}, "0.004");
  cell("Pre + GPAS", {{0, 19}, {1, 20}}, "0.008");
  cell("Pre-LN + QK-norm", {{0, 11}, {1, 15}}, "0.004");
  sort_methods(d.methods);
  auto t = schemes_table(d, {});
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0].text, "Pre-LN");
  EXPECT_EQ(t.rows[0][1].text, "0.004 (GPAS 0.008)");
  EXPECT_EQ(t.rows[0][4].text, "-1.50 [-7.85, +4.85]");    // (19 - 20, 20 - 22), t(0.975, 1) = 12.706
  EXPECT_EQ(t.rows[1][0].text, "Pre-LN + QK-norm");
  EXPECT_EQ(t.rows[1][1].text, "0.004");
  EXPECT_EQ(t.rows[1][4].text, "-2.00 [-14.71, +10.71]");  // (10 - 11, 12 - 15)
  EXPECT_EQ(t.rows[2][0].text, "Peri-LN");
  EXPECT_EQ(t.rows[2][1].text, "GPAS 0.002");
  EXPECT_EQ(t.rows[2][2].kind, "missing");
  EXPECT_EQ(t.rows[2][3].text, "30.00");
  EXPECT_EQ(t.rows[2][4].text, "");
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_EQ(t.notes[0], "9m Pre-LN: the runs with GPAS used another learning rate (0.008 against 0.004); "
                        "the change compares across the two");
}

TEST_F(Table2Test, CellsSayWhatTheyAre) {
  Table2Data d = collect_table2(*store(), {});
  EXPECT_EQ(d.sizes, (std::vector<std::string>{"71m", "130m"}));
  ASSERT_EQ(d.methods.size(), 11u);
  auto t = table2_table(d, {});
  auto cell = [&](const std::string& method, size_t col) {
    for (const auto& row : t.rows)
      if (row[0].text == method) return row[col];
    return Cell{};
  };
  EXPECT_EQ(cell("Pre-LN", 1).text, "34.30 ± 0.20 [n=3]");
  // Seeds 0 and 1 of both arms: paired changes -0.70 and -0.70 (the unpaired means differ by -0.80).
  EXPECT_EQ(cell("Pre + GPAS", 1).text, "33.50 ± 0.14 (-0.70 [-0.70, -0.70]*) [n=2]");
  EXPECT_EQ(cell("Post-LN", 2).text, "diverged");
  EXPECT_EQ(cell("Mix + GPAS", 2).text, "missing");  // its only run is still running
  EXPECT_EQ(cell("Sandwich-LN", 1).em, Emphasis::kBest);
  EXPECT_EQ(cell("LNS + GPAS", 1).em, Emphasis::kSecond);
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(d.notes[0], "130m Mix + GPAS: 1 run(s) running, not counted");
}

// Text tables used `*` both for "the interval excludes zero" (in a cell) and for "best" (after
// it). Best and second best have marks of their own now, and Markdown escapes the interval's `*`
// (two in a row started emphasis).
TEST_F(Table2Test, EachMarkHasOneMeaning) {
  std::string text = report_table2(*store(), {}, "text");
  EXPECT_NE(text.find("32.82▲"), std::string::npos) << text;         // best at 71m
  EXPECT_NE(text.find("32.93 (-1.77)△"), std::string::npos) << text;  // second at 71m
  EXPECT_NE(text.find("(-0.70 [-0.70, -0.70]*) [n=2]"), std::string::npos) << text;
  EXPECT_NE(text.find("▲: best, △: second best"), std::string::npos) << text;
  EXPECT_EQ(text.find("*: best"), std::string::npos) << text;
  for (size_t at = text.find('*'); at != std::string::npos; at = text.find('*', at + 1))
    EXPECT_TRUE(text.compare(at - 1, 2, "]*") == 0 || text[at + 1] == ' ' || text[at + 1] == '\n')
        << "a * that is not an interval's mark (or the caption's word on it): " << text.substr(at - 20, 40);
  std::string md = report_table2(*store(), {}, "md");
  EXPECT_NE(md.find("(-0.70 [-0.70, -0.70]\\*) [n=2]"), std::string::npos) << md;
}

TEST_F(Table2Test, CsvAndPaperComparison) {
  ReportOptions o;
  o.compare_paper = true;
  std::string csv = report_table2(*store(), o, "csv");
  EXPECT_NE(csv.find("method,size,mean,std,n,diverged,unfinished,delta_vs_base,paired_n,paired_lo,paired_hi,paper\n"),
            std::string::npos);
  EXPECT_NE(csv.find("Pre + GPAS,71m,33.5000,0.1414,2,0,0,-0.7000,2,-0.7000,-0.7000,33.49\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("Post-LN,130m,,,0,1,0,,0,,,26.62\n"), std::string::npos) << csv;
  std::string md = report_table2(*store(), o, "md");
  EXPECT_NE(md.find("| Method | 71m | 71m (paper) | 130m | 130m (paper) |"), std::string::npos) << md;
  EXPECT_NE(report_table2(*store(), o, "html").find("<td class=\"paper\">34.23</td>"), std::string::npos);
}

TEST_F(Table2Test, ByteStableAcrossDatabases) {
  std::string a = report_table2(*store(), {}, "md");
  // Ingesting the same run directories into a fresh database gives the same bytes.
  std::string other = testing::temp_dir("table2_again");
  auto s = Store::open(db_path_for(other));
  for (const auto& r : store()->list_runs()) s->ingest_run_dir(r.run_dir);
  EXPECT_EQ(report_table2(*s, {}, "md"), a);
  EXPECT_EQ(report_table2(*store(), {}, "md"), a);
  EXPECT_THROW(report_table2(*store(), {"no-such-sweep"}, "md"), Error);
}

TEST_F(Table2Test, RunShowJsonHasNumbers) {
  auto s = store();
  auto runs = s->list_runs();
  ASSERT_FALSE(runs.empty());
  auto j = nlohmann::json::parse(format_run(*s, runs[0], true));
  EXPECT_TRUE(j["attempt"].is_number_integer()) << j["attempt"];
  EXPECT_TRUE(j["pid"].is_number_integer()) << j["pid"];
  EXPECT_TRUE(j["last_step"].is_number_integer()) << j["last_step"];
  EXPECT_EQ(j["last_step"], runs[0].last_step);
  EXPECT_TRUE(j["host"].is_string());
}

TEST_F(Table2Test, PivotBySizeAndNorm) {
  PivotOptions o;
  o.rows = "model.norm";
  o.cols = "model.size";
  auto t = pivot_table(*store(), o);
  EXPECT_EQ(t.header, (std::vector<std::string>{"model.norm", "71m", "130m"}));
  std::string md = render(t, "md");
  EXPECT_NE(md.find("| pre | 33.98 ± 0.47 [n=5] | 26.55 ± 0.29 [n=2] |"), std::string::npos) << md;
  o.where = {{"model.gpas.enabled", "false"}, {"model.size", "71m"}};
  o.rows = "method";
  o.cols = "train.seed";
  md = render(pivot_table(*store(), o), "md");
  EXPECT_NE(md.find("| Pre-LN | 34.10 | 34.30 | 34.50 |"), std::string::npos) << md;
  // Small values keep their digits (every run ends at lr 1e-4) instead of reading 0.00.
  o.value = "train/lr";
  md = render(pivot_table(*store(), o), "md");
  EXPECT_NE(md.find("| Pre-LN | 0.0001 | 0.0001 | 0.0001 |"), std::string::npos) << md;
  o.where.clear();
  o.rows = "model.norm";
  o.cols = "model.size";
  md = render(pivot_table(*store(), o), "md");
  EXPECT_NE(md.find("| pre | 0.0001 ± 0 [n=5] | 0.0001 ± 0 [n=2] |"), std::string::npos) << md;
}

TEST_F(Table2Test, PivotPairsTwoArms) {
  PivotOptions o;
  o.rows = "model.size";
  o.cols = "method";
  o.paired = "Pre-LN,Pre + GPAS";
  auto t = pivot_table(*store(), o);
  EXPECT_EQ(t.header.back(), "Pre + GPAS − Pre-LN");
  std::string md = render(t, "md");
  // 71m: seeds 0 and 1 are in both arms (33.40 - 34.10, 33.60 - 34.30); seed 2 of Pre-LN has no partner.
  EXPECT_NE(md.find("| -0.70 [-0.70, -0.70]\\* [n=2] |"), std::string::npos) << md;
  // 130m: one seed each: the change without an interval.
  EXPECT_NE(md.find("| -0.41 [n=1] |"), std::string::npos) << md;
  EXPECT_NE(t.caption.find("t(0.975, n-1)"), std::string::npos);
  o.paired = "Pre-LN,Pre+GPAS";  // a typo names the valid values
  try {
    pivot_table(*store(), o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'Pre+GPAS'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Pre + GPAS"), std::string::npos) << e.what();
  }
  o.paired = "Pre-LN";
  EXPECT_THROW(pivot_table(*store(), o), Error);
}

TEST(SizeLabel, PresetOrShape) {
  RunConfig c = config_of("71m", "pre", false, 0);
  EXPECT_EQ(size_label(to_json(c)), "71m");
  c.model.layers = 24;
  EXPECT_EQ(size_label(to_json(c)), "L24-h512");
  std::vector<std::string> v = {"L24-h64", "130m", "L6-h64", "L12-h32", "tiny"};
  sort_sizes(v);
  EXPECT_EQ(v, (std::vector<std::string>{"tiny", "130m", "L12-h32", "L6-h64", "L24-h64"}));
}

// One preset at two depths (a model.layers axis, as experiments/table2-cpu.yaml): a column each.
TEST(SizeLabel, DepthsGetTheirOwnTable2Columns) {
  std::string wd = testing::temp_dir("depths");
  for (int64_t layers : {6, 24})
    for (bool gpas : {false, true})
      for (int64_t seed : {0, 1}) {
        RunConfig c = config_of("tiny", "pre", gpas, seed);
        c.model.layers = layers;
        c.model.vocab_size = 8000;  // as a started run records it
        write_run(wd, {c, 100.0 + double(layers) - (gpas ? 2.0 + double(seed) : 0.0)});
      }
  RunConfig pending = config_of("tiny", "pre", false, 2);  // vocab_size 0: not started yet
  pending.model.layers = 6;
  write_run(wd, {pending, 0, "running"});
  Store::open(db_path_for(wd))->ingest_workdir(wd);
  auto st = Store::open(db_path_for(wd), true);
  Table2Data d = collect_table2(*st, {});
  EXPECT_EQ(d.sizes, (std::vector<std::string>{"L6-h64", "L24-h64"}));
  // The pending seed is the same experiment, not "configurations that differ beyond the seed".
  EXPECT_EQ(d.notes, (std::vector<std::string>{"L6-h64 Pre-LN: 1 run(s) running, not counted"}));
  std::string md = render(table2_table(d, {}), "md");
  EXPECT_NE(md.find("| Pre + GPAS | **103.50 ± 0.71 (-2.50 [-8.85, +3.85]) [n=2]** | **121.50 ± 0.71 (-2.50 [-8.85, +3.85]) [n=2]** |"),
            std::string::npos) << md;
}

TEST(Ablations, TablesFourAndFive) {
  std::string wd = testing::temp_dir("ablations");
  auto variant = [&](const std::string& key, const std::string& value, double ppl, int seed = 0) {
    RunConfig c = config_of("9m", "pre", true, seed);
    if (key == "activation") c.model.gpas.activation = value;
    if (key == "site") c.model.gpas.site = value;
    if (key == "stopgrad") c.model.gpas.stopgrad = value == "true";
    if (key == "learnable") c.model.gpas.learnable = value == "true";
    write_run(wd, {c, ppl});
  };
  variant("activation", "silu", 20.35);
  variant("activation", "silu", 20.45, 1);
  variant("activation", "identity", 20.08);
  variant("activation", "tanh", 20.09);
  variant("site", "before_sublayer", 20.73);
  variant("stopgrad", "false", 21.34);
  variant("learnable", "false", 22.46);
  write_run(wd, {config_of("9m", "pre", false), 21.35});
  write_run(wd, {config_of("9m", "lns", true), 19.0});  // not Pre-LN: ignored
  Store::open(db_path_for(wd))->ingest_workdir(wd);
  auto s = Store::open(db_path_for(wd), true);
  ReportOptions o;
  o.size = "9m";
  o.compare_paper = true;
  auto tables = ablation_tables(*s, o);
  ASSERT_EQ(tables.size(), 2u);
  std::string md4 = render(tables[0], "md"), md5 = render(tables[1], "md");
  EXPECT_NE(md4.find("| activation | identity | **20.08** | 20.08 |"), std::string::npos) << md4;
  EXPECT_NE(md4.find("| activation | tanh | <u>20.09</u> | 20.09 |"), std::string::npos) << md4;
  EXPECT_NE(md4.find("| activation | silu (default) | 20.40 ± 0.07 [n=2] | 20.35 |"), std::string::npos) << md4;
  EXPECT_NE(md4.find("| activation | relu | *missing* | 21.17 |"), std::string::npos) << md4;
  EXPECT_NE(md4.find("| position | before sub-layer | <u>20.73</u> | 20.73 |"), std::string::npos) << md4;
  EXPECT_NE(md5.find("| gate | predefined (fixed to learned values) | 22.46 | 22.46 |"), std::string::npos) << md5;
  EXPECT_NE(md5.find("| stopgrad | no GPAS | 21.35 | 21.35 |"), std::string::npos) << md5;
  o.size = "350m";
  EXPECT_THROW(report_ablations(*s, o, "md"), Error);
}

TEST(PaperTables, SpotChecks) {
  EXPECT_DOUBLE_EQ(paper_table2("Post-LN", "250m").value(), 1412.13);
  EXPECT_DOUBLE_EQ(paper_table2("LNS + GPAS", "1b").value(), 14.88);
  EXPECT_FALSE(paper_table2("Pre-LN", "9m"));
  EXPECT_EQ(paper_ablations().size(), 18u);
  EXPECT_EQ(method_of(to_json(config_of("1b", "sandwich", true))), "Sandwich + GPAS");
  EXPECT_EQ(base_method("Sandwich + GPAS"), "Sandwich-LN");
}

// model.qk_norm names a method only where it differs from the scheme's own (OLMo-2's is "full").
TEST(MethodNames, QkNormSuffixOnlyWhereItDiffersFromTheScheme) {
  auto method = [](const char* norm, bool gpas, const char* qk) {
    nlohmann::json j = to_json(config_of("tiny", norm, gpas));
    j["model"]["qk_norm"] = qk;
    return method_of(j);
  };
  EXPECT_EQ(method("pre", false, "auto"), "Pre-LN");
  EXPECT_EQ(method("pre", false, "none"), "Pre-LN");
  EXPECT_EQ(method("pre", true, "head"), "Pre + GPAS + QK-norm");
  EXPECT_EQ(method("pre", false, "full"), "Pre-LN + QK-norm (full)");
  EXPECT_EQ(method("olmo2", false, "full"), "OLMo-2");
  EXPECT_EQ(method("olmo2", true, "none"), "OLMo-2 + GPAS - QK-norm");
  EXPECT_EQ(base_method("Pre + GPAS + QK-norm"), "Pre-LN + QK-norm");
  EXPECT_EQ(base_method("OLMo-2 + GPAS - QK-norm"), "OLMo-2 - QK-norm");
}

}  // namespace
}  // namespace gpas::results
