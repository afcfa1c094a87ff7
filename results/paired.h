// Paired comparisons across seeds: seed k of arm A against seed k of arm B (the same data order and
// the same initial weights of every shared parameter), the mean of the differences and its 95 %
// t-interval. Pure arithmetic, no store: tables call it with the values they collected.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace gpas::results {

struct PairedChange {
  int n = 0;              // seeds present in both arms
  double mean = 0;        // mean of (a_k - b_k)
  double lo = 0, hi = 0;  // 95 % t-interval of that mean (equal to mean when n < 2)
  bool excludes_zero() const { return n >= 2 && (lo > 0 || hi < 0); }
};

// a and b: seed -> value.
PairedChange paired_change(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b);

// "-0.70 [-0.90, -0.50]*" (n >= 2; * where the interval excludes zero), "-0.70" (n = 1), or, with no
// seed in both arms, the difference of the means `unpaired` and the word "unpaired".
std::string paired_change_text(const PairedChange& p, double unpaired);

// What paired_change_text's numbers are, for a caption: follows "the mean paired change A − B".
extern const char* const kPairedChangeCaption;

// The 0.975 quantile of Student's t with `df` degrees of freedom (df >= 1).
double t_quantile_975(int df);

}  // namespace gpas::results
