// Paired seed comparisons: the mean paired change and its 95 % t-interval against hand-computed
// values, unpaired seeds left out, and the t quantiles against the standard table.
#include <gtest/gtest.h>

#include <cmath>

#include "results/paired.h"

namespace gpas::results {
namespace {

TEST(Paired, MeanAndTIntervalOfTheDifferences) {
  // Differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3), t(2) = 4.303.
  std::map<int64_t, double> a = {{0, 11}, {1, 12}, {2, 13}, {7, 99}}, b = {{0, 10}, {1, 10}, {2, 10}, {8, 0}};
  auto p = paired_change(a, b);
  EXPECT_EQ(p.n, 3);  // seeds 7 and 8 have no partner
  EXPECT_DOUBLE_EQ(p.mean, 2.0);
  EXPECT_NEAR(p.hi - p.mean, 4.303 / std::sqrt(3.0), 1e-9);
  EXPECT_NEAR(p.mean - p.lo, 4.303 / std::sqrt(3.0), 1e-9);
  EXPECT_FALSE(p.excludes_zero());  // [-0.48, 4.48]: three noisy seeds prove nothing
  // Differences 0.9, 1.0, 1.1: sd 0.1, half-width 4.303 * 0.1 / sqrt(3) = 0.248, excludes zero.
  auto tight = paired_change({{0, 1.9}, {1, 2.0}, {2, 2.1}}, {{0, 1}, {1, 1}, {2, 1}});
  EXPECT_NEAR(tight.lo, 1.0 - 4.303 * 0.1 / std::sqrt(3.0), 1e-9);
  EXPECT_TRUE(tight.excludes_zero());
  // Differences -1, 1: the interval spans zero.
  auto q = paired_change({{0, 9}, {1, 11}}, {{0, 10}, {1, 10}});
  EXPECT_EQ(q.n, 2);
  EXPECT_DOUBLE_EQ(q.mean, 0.0);
  EXPECT_FALSE(q.excludes_zero());
  // One seed: a change but no interval, never "significant".
  auto r = paired_change({{3, 5}}, {{3, 4}});
  EXPECT_EQ(r.n, 1);
  EXPECT_DOUBLE_EQ(r.lo, r.hi);
  EXPECT_FALSE(r.excludes_zero());
}

TEST(Paired, TQuantiles) {
  EXPECT_NEAR(t_quantile_975(1), 12.706, 1e-3);
  EXPECT_NEAR(t_quantile_975(2), 4.303, 1e-3);
  EXPECT_NEAR(t_quantile_975(30), 2.042, 1e-3);
  EXPECT_NEAR(t_quantile_975(40), 2.021, 2e-3);
  EXPECT_NEAR(t_quantile_975(120), 1.980, 1e-3);
  EXPECT_NEAR(t_quantile_975(100000), 1.960, 1e-3);
}

}  // namespace
}  // namespace gpas::results
