#include "results/paired.h"

#include <cmath>
#include <vector>

#include "results/methods.h"

namespace gpas::results {

double t_quantile_975(int df) {
  // Exact to 3 decimals for df <= 30 (standard tables); beyond, the Cornish-Fisher expansion
  // around the normal quantile (error below 1e-4 there).
  static const double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return NAN;
  if (df <= 30) return kTable[df - 1];
  const double z = 1.959963984540054, n = df;
  return z + (z * z * z + z) / (4 * n) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * n * n);
}

PairedChange paired_change(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b) {
  std::vector<double> d;
  for (const auto& [seed, va] : a)
    if (auto it = b.find(seed); it != b.end()) d.push_back(va - it->second);
  PairedChange p;
  p.n = int(d.size());
  if (p.n == 0) return p;
  for (double x : d) p.mean += x;
  p.mean /= p.n;
  p.lo = p.hi = p.mean;
  if (p.n < 2) return p;
  double ss = 0;
  for (double x : d) ss += (x - p.mean) * (x - p.mean);
  const double se = std::sqrt(ss / (p.n - 1)) / std::sqrt(double(p.n));
  const double half = t_quantile_975(p.n - 1) * se;
  p.lo = p.mean - half;
  p.hi = p.mean + half;
  return p;
}

const char* const kPairedChangeCaption =
    " (seed k against seed k, over the n seeds both have; the difference of the means, marked "
    "unpaired, where they share none) and, where n >= 2, its 95 % t-interval, mean ± t(0.975, n-1) "
    "s/sqrt(n); * marks an interval that excludes zero.";

std::string paired_change_text(const PairedChange& p, double unpaired) {
  if (p.n == 0) return signed_fixed(unpaired) + " unpaired";
  if (p.n == 1) return signed_fixed(p.mean);
  return signed_fixed(p.mean) + " [" + signed_fixed(p.lo) + ", " + signed_fixed(p.hi) + "]" +
         (p.excludes_zero() ? "*" : "");
}

}  // namespace gpas::results
