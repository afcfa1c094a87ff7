// Figures and the HTML page from the Table 2 fixture: every figure file exists and is non-empty
// in PNG and SVG, output is byte-stable, the page is self-contained, and (when Chromium is
// installed) headless Chromium renders it to a non-blank screenshot.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/common/error.h"
#include "core/common/fs.h"
#include "results/html_report.h"
#include "tests/results/fixture.h"

namespace gpas::results {
namespace {

class FiguresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    workdir_ = new std::string(testing::write_table2_workdir("figures"));
    Store::open(db_path_for(*workdir_))->ingest_workdir(*workdir_);
  }
  static void TearDownTestSuite() { delete workdir_; }
  void SetUp() override {
    if (!gnuplot_available()) GTEST_SKIP() << "gnuplot not installed (apt-get install gnuplot-nox)";
  }
  std::unique_ptr<Store> store() { return Store::open(db_path_for(*workdir_), true); }
  static std::string* workdir_;
};
std::string* FiguresTest::workdir_ = nullptr;

TEST_F(FiguresTest, EveryFigureInPngAndSvg) {
  FigureOptions o;
  o.out_dir = *workdir_ + "/figs";
  auto s = store();
  auto pair = figure_runs(*s, o);
  EXPECT_EQ(method_of(pair.first.config), "Pre-LN");
  EXPECT_EQ(method_of(pair.second.config), "Pre + GPAS");
  EXPECT_EQ(config_text(pair.first.config, "model.size"), "130m");  // the largest with both
  auto figs = make_figures(*s, o);
  std::vector<std::string> names;
  for (const auto& f : figs) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fig2_loss", "fig3_gates", "fig4_act_var",
                                             "fig5_grad_norm", "fig6_weight_norm_ratio",
                                             "fig7_layer_importance"}));
  for (const auto& f : figs) {
    ASSERT_EQ(f.paths.size(), 2u);
    for (const auto& p : f.paths) EXPECT_GT(std::filesystem::file_size(p), 1000u) << p;
    EXPECT_EQ(read_file(f.paths[0]).substr(1, 3), "PNG") << f.paths[0];
    EXPECT_NE(read_file(f.paths[1]).find("<svg"), std::string::npos) << f.paths[1];
  }
  std::string svg = read_file(o.out_dir + "/fig2_loss.svg");
  make_figures(*s, o);  // again: the same bytes
  EXPECT_EQ(read_file(o.out_dir + "/fig2_loss.svg"), svg);

  o.baseline = pair.second.id;  // explicit runs; a missing one is an error naming it
  o.treated = "nosuchrun";
  EXPECT_THROW(make_figures(*s, o), Error);
}

// Over seeds: Pre-LN seeds 0-2 and Pre + GPAS seeds 0-1, so the figures pair seeds 0 and 1 and
// draw their mean (Figure 2 with a min-max band: the runs' losses differ by seed), each title
// naming n; one run a method draws no band and names no n.
TEST_F(FiguresTest, SeveralSeedsDrawTheMeanWithABandAndNameN) {
  FigureOptions o;
  o.out_dir = *workdir_ + "/figs-seeds";
  o.formats = {"svg"};
  std::string wd = testing::temp_dir("figures-seeds");
  for (const auto& [seed, ppl] : std::vector<std::pair<int, double>>{{0, 34.1}, {1, 34.3}, {2, 34.5}})
    testing::write_run(wd, {testing::config_of("71m", "pre", false, seed), ppl});
  for (const auto& [seed, ppl] : std::vector<std::pair<int, double>>{{0, 33.4}, {1, 33.6}})
    testing::write_run(wd, {testing::config_of("71m", "pre", true, seed), ppl});
  Store::open(db_path_for(wd))->ingest_workdir(wd);
  auto st = Store::open(db_path_for(wd), true);
  auto seeds = figure_seeds(*st, o);
  ASSERT_EQ(seeds.base.size(), 2u);
  ASSERT_EQ(seeds.treated.size(), 2u);
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(config_text(seeds.base[i].config, "train.seed"), config_text(seeds.treated[i].config, "train.seed"));
  auto figs = make_figures(*st, o);
  for (const auto& f : figs) EXPECT_NE(f.title.find("mean of n=2 seeds"), std::string::npos) << f.name << ": " << f.title;
  std::string fig2 = read_file(o.out_dir + "/fig2_loss.svg");
  EXPECT_NE(fig2.find("fill-opacity"), std::string::npos) << "no band drawn";
  // One run per method: no band, no n.
  o.baseline = seeds.base[0].id;
  o.treated = seeds.treated[0].id;
  o.out_dir = *workdir_ + "/figs-one";
  auto single = make_figures(*st, o);
  EXPECT_EQ(single[0].title.find("mean of"), std::string::npos) << single[0].title;
  EXPECT_EQ(read_file(o.out_dir + "/fig2_loss.svg").find("fill-opacity"), std::string::npos);
}

// `gpas report mechanism`: the fixture's probes at step 100 are act_var = 2 (l + 1) without GPAS
// and (l + 1) with it, gates 0.1 (l + 1).
TEST(Mechanism, FiguresThreeAndFourInNumbers) {
  std::string wd = testing::write_table2_workdir("mechanism");
  Store::open(db_path_for(wd))->ingest_workdir(wd);
  auto s = Store::open(db_path_for(wd), true);
  auto j = mechanism_data(*s, {});
  EXPECT_EQ(j["baseline"]["method"], "Pre-LN");
  EXPECT_EQ(j["gpas"]["size"], "130m");
  EXPECT_EQ(j["step"], 100);
  ASSERT_EQ(j["layers"].size(), 4u);
  EXPECT_DOUBLE_EQ(j["layers"][3]["act_var_baseline"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(j["layers"][3]["act_var_gpas"].get<double>(), 4.0);
  EXPECT_NEAR(j["layers"][0]["scale"].get<double>(), 1.0 - 0.1 / (1.0 + std::exp(-0.1)), 1e-12);
  ASSERT_EQ(j["eval_ppl"].size(), 2u);
  std::string text = mechanism_text(j);
  EXPECT_NE(text.find("Growth from the first layer to the last: Pre-LN x4.00, Pre + GPAS x4.00. "
                      "Largest variance: 8.00 against 4.00 (-50.0 %)."), std::string::npos) << text;
  EXPECT_NE(text.find("step     100       26.75       26.34  (-1.5 %)"), std::string::npos) << text;
  FigureOptions o;
  o.sweep = "nosuchsweep";
  EXPECT_THROW(mechanism_data(*s, o), Error);
}

TEST(FigureAxes, LogOnlyWhenValuesSpanMoreThanADecade) {
  auto pts = [](std::vector<double> v) {
    std::vector<LayerPoint> out;
    for (double x : v) out.push_back({0, 0, x});
    return out;
  };
  EXPECT_FALSE(log_y_axis(pts({1.0, 2.0, 9.0})));  // within a decade: no labelled log tick
  EXPECT_TRUE(log_y_axis(pts({0.5, 2.0, 9.0})));
  EXPECT_TRUE(log_y_axis(pts({1.0}), pts({11.0})));  // both panels share the axis
  EXPECT_FALSE(log_y_axis(pts({0.0, 100.0})));       // not all positive
  EXPECT_FALSE(log_y_axis({}));
}

TEST_F(FiguresTest, HtmlPageIsSelfContainedAndRenders) {
  HtmlOptions o;
  o.report.compare_paper = true;
  std::string page = html_report(*store(), o);
  EXPECT_EQ(page, html_report(*store(), o));  // byte-stable
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("<table class=\"gpas\">"), std::string::npos);
  EXPECT_NE(page.find("<h2>Each scheme without and with GPAS</h2>"), std::string::npos);
  // Captions above their tables, as wide as the page (a <caption> is only as wide as its table).
  EXPECT_EQ(page.find("<caption"), std::string::npos);
  EXPECT_NE(page.find("final metrics at each run's last step.</figcaption>"), std::string::npos);
  EXPECT_NE(page.find("<figure id=\"fig7_layer_importance\">"), std::string::npos);
  size_t svgs = 0;
  for (size_t p = page.find("<svg"); p != std::string::npos; p = page.find("<svg", p + 1)) ++svgs;
  EXPECT_EQ(svgs, 6u);
  for (const char* external : {"src=\"http", "href=\"http", "<script src", "<link "})
    EXPECT_EQ(page.find(external), std::string::npos) << external;

  std::string html = *workdir_ + "/page.html", png = *workdir_ + "/page.png";
  write_file_atomic(html, page);
  std::string why = render_check(html, png);
  if (why == "chromium not found") GTEST_SKIP() << "no Chromium: render check skipped";
  ASSERT_EQ(why, "");
  std::string shot = read_file(png);
  EXPECT_GT(shot.size(), 20000u);  // a blank 1200x2400 page compresses to a few KB
}

}  // namespace
}  // namespace gpas::results
