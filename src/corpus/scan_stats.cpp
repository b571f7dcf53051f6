// Exact, order-independent per-head statistics: ExactSum keeps a sum of doubles as a
// non-overlapping expansion (J. R. Shewchuk, "Adaptive Precision Floating-Point Arithmetic and
// Fast Robust Geometric Predicates", 1997), rounded once at the end as Python's math.fsum does.
#include <cmath>
#include <nlohmann/json.hpp>

#include "attnscope/error.h"
#include "attnscope/scan.h"

namespace attnscope {

void ExactSum::add(double x) {
  if (!std::isfinite(x)) {
    special_ += x;  // inf + -inf = NaN, as a plain sum would give
    has_special_ = true;
    return;
  }
  size_t i = 0;
  for (double y : parts_) {
    if (std::fabs(x) < std::fabs(y)) std::swap(x, y);
    const double hi = x + y;
    const double lo = y - (hi - x);  // exact rounding error of hi (|x| >= |y|)
    if (lo != 0) parts_[i++] = lo;
    x = hi;
  }
  parts_.resize(i);
  parts_.push_back(x);
}

void ExactSum::merge(const ExactSum& other) {
  for (double p : other.parts_) add(p);
  if (other.has_special_) add(other.special_);
}

double ExactSum::value() const {
  if (has_special_) return special_;
  size_t n = parts_.size();
  if (n == 0) return 0.0;
  double hi = parts_[--n], lo = 0;
  while (n > 0) {
    const double x = hi, y = parts_[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo != 0) break;
  }
  // Round half to even on the exact value: when the remainder lo is exactly half an ulp, the
  // parts below decide which way the true sum lies.
  if (n > 0 && ((lo < 0 && parts_[n - 1] < 0) || (lo > 0 && parts_[n - 1] > 0))) {
    const double y = lo * 2, x = hi + y;
    if (y == x - hi) hi = x;
  }
  return hi;
}

ExactSum ExactSum::from_parts(const std::vector<double>& parts) {
  ExactSum s;
  for (double p : parts) s.add(p);
  return s;
}

double t_quantile_975(int64_t dof) {
  if (dof < 1) fail(ErrorKind::InvalidArgument, "t_quantile_975: dof must be >= 1");
  static const double table[30] = {12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
                                   2.364624252,  2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
                                   2.160368656,  2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
                                   2.093024054,  2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
                                   2.059538553,  2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456};
  if (dof <= 30) return table[dof - 1];
  // Cornish-Fisher expansion of the t quantile around the normal one (Abramowitz & Stegun 26.7.5).
  const double z = 1.959963984540054, v = static_cast<double>(dof);
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

ScanStats::ScanStats(const ScanPlan& plan) : metrics_(plan.metrics), layers_(plan.layers), n_head_(plan.n_head) {
  const size_t n = static_cast<size_t>(plan.values_per_unit());
  count_.assign(n, 0);
  sum_.assign(n, ExactSum());
  sumsq_.assign(n, ExactSum());
}

void ScanStats::add(const ScanRow& row) {
  if (row.values.size() != count_.size())
    fail(ErrorKind::InvalidArgument, "ScanStats::add: a row of " + std::to_string(row.values.size()) +
                                         " values for statistics of " + std::to_string(count_.size()));
  for (size_t i = 0; i < count_.size(); ++i) {
    const double x = row.values[i];
    if (std::isnan(x)) continue;
    ++count_[i];
    sum_[i].add(x);
    const double sq = x * x;
    sumsq_[i].add(sq);
    sumsq_[i].add(std::fma(x, x, -sq));  // the rounding error of x * x: the two add up to x^2 exactly
  }
}

void ScanStats::merge(const ScanStats& other) {
  if (other.metrics_ != metrics_ || other.layers_ != layers_ || other.n_head_ != n_head_)
    fail(ErrorKind::InvalidArgument,
         "ScanStats::merge: statistics of different scans (metrics, layers or heads differ)");
  for (size_t i = 0; i < count_.size(); ++i) {
    count_[i] += other.count_[i];
    sum_[i].merge(other.sum_[i]);
    sumsq_[i].merge(other.sumsq_[i]);
  }
}

std::vector<HeadSummary> ScanStats::summary() const {
  std::vector<HeadSummary> out;
  const size_t L = layers_.size(), H = static_cast<size_t>(n_head_);
  for (size_t m = 0; m < metrics_.size(); ++m)
    for (size_t li = 0; li < L; ++li)
      for (size_t h = 0; h < H; ++h) {
        const size_t i = (m * L + li) * H + h;
        HeadSummary s;
        s.metric = metrics_[m];
        s.layer = layers_[li];
        s.head = static_cast<int>(h);
        s.count = count_[i];
        if (s.count > 0) {
          const double n = static_cast<double>(s.count), sum = sum_[i].value();
          s.mean = sum / n;
          if (s.count > 1) {
            const double var = (sumsq_[i].value() - sum * s.mean) / (n - 1);
            s.std = var > 0 ? std::sqrt(var) : 0.0;
          }
        } else {
          s.mean = std::nan("");
        }
        const double half =
            s.count > 1 ? t_quantile_975(s.count - 1) * s.std / std::sqrt(static_cast<double>(s.count)) : 0.0;
        s.ci_low = s.mean - half;
        s.ci_high = s.mean + half;
        out.push_back(std::move(s));
      }
  return out;
}

std::string ScanStats::to_json() const {
  nlohmann::json j;
  j["metrics"] = metrics_;
  j["layers"] = layers_;
  j["n_head"] = n_head_;
  j["count"] = count_;
  auto parts = [](const std::vector<ExactSum>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : v) {
      nlohmann::json p = s.parts();
      if (!std::isfinite(s.value())) p.push_back(std::isnan(s.value()) ? "nan" : (s.value() > 0 ? "inf" : "-inf"));
      a.push_back(std::move(p));
    }
    return a;
  };
  j["sum"] = parts(sum_);
  j["sumsq"] = parts(sumsq_);
  return j.dump();
}

ScanStats ScanStats::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(ErrorKind::Format, "ScanStats::from_json: not a JSON object");
  ScanStats s;
  try {
    s.metrics_ = j.at("metrics").get<std::vector<std::string>>();
    s.layers_ = j.at("layers").get<std::vector<int>>();
    s.n_head_ = j.at("n_head").get<int>();
    s.count_ = j.at("count").get<std::vector<int64_t>>();
    auto parts = [](const nlohmann::json& a) {
      std::vector<ExactSum> v;
      for (const auto& p : a) {
        ExactSum e;
        for (const auto& x : p) {
          if (x.is_string()) {
            const std::string t = x.get<std::string>();
            e.add(t == "nan" ? std::nan("") : (t == "inf" ? HUGE_VAL : -HUGE_VAL));
          } else {
            e.add(x.get<double>());
          }
        }
        v.push_back(std::move(e));
      }
      return v;
    };
    s.sum_ = parts(j.at("sum"));
    s.sumsq_ = parts(j.at("sumsq"));
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::Format, std::string("ScanStats::from_json: ") + e.what());
  }
  const size_t n = s.metrics_.size() * s.layers_.size() * static_cast<size_t>(s.n_head_);
  if (s.count_.size() != n || s.sum_.size() != n || s.sumsq_.size() != n)
    fail(ErrorKind::Format, "ScanStats::from_json: arrays do not match metrics x layers x heads");
  return s;
}

}  // namespace attnscope
