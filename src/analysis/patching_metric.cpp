// Patching metrics: logit difference, logit, log-probability of a token at one position, or any
// function of the logits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "analysis/patching_detail.h"
#include "attnscope/error.h"

namespace attnscope::patching {

namespace {
std::string at_pos(int position) { return " at " + std::to_string(position); }
}  // namespace

Metric logit_diff(int32_t answer, int32_t wrong, int position) {
  Metric m;
  m.kind = Metric::Kind::LogitDiff;
  m.answer = answer;
  m.wrong = wrong;
  m.position = position;
  m.description = "logit_diff(" + std::to_string(answer) + ", " + std::to_string(wrong) + ")" + at_pos(position);
  return m;
}

Metric logit(int32_t token, int position) {
  Metric m;
  m.kind = Metric::Kind::Logit;
  m.answer = token;
  m.position = position;
  m.description = "logit(" + std::to_string(token) + ")" + at_pos(position);
  return m;
}

Metric log_prob(int32_t token, int position) {
  Metric m;
  m.kind = Metric::Kind::LogProb;
  m.answer = token;
  m.position = position;
  m.description = "log_prob(" + std::to_string(token) + ")" + at_pos(position);
  return m;
}

Metric custom(std::function<double(const Tensor& logits)> fn, std::string description) {
  Metric m;
  m.kind = Metric::Kind::Custom;
  m.fn = std::move(fn);
  m.description = std::move(description);
  return m;
}

double evaluate(const Metric& m, const Tensor& logits, int64_t row) {
  if (logits.ndim() != 3)
    fail(ErrorKind::InvalidArgument, "patching metric: logits must be [B, T, V], got " + logits.shape_str());
  const int64_t B = logits.dim(0), T = logits.dim(1), V = logits.dim(2);
  if (row < 0 || row >= B)
    fail(ErrorKind::InvalidArgument,
         "patching metric: batch row " + std::to_string(row) + " outside " + logits.shape_str());
  if (m.kind == Metric::Kind::Custom) {
    if (!m.fn) fail(ErrorKind::InvalidArgument, "patching metric: a custom metric needs a function");
    Tensor one({1, T, V});
    std::memcpy(one.data(), logits.data() + row * T * V, sizeof(float) * static_cast<size_t>(T * V));
    return m.fn(one);
  }
  const int64_t pos = m.position < 0 ? T + m.position : m.position;
  if (pos < 0 || pos >= T)
    fail(ErrorKind::InvalidArgument, "patching metric: position " + std::to_string(m.position) +
                                         " is outside the run's " + std::to_string(T) + " positions");
  auto token = [&](int32_t t) {
    if (t < 0 || t >= V)
      fail(ErrorKind::InvalidArgument,
           "patching metric: token " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    return t;
  };
  const float* r = logits.data() + (row * T + pos) * V;
  switch (m.kind) {
    case Metric::Kind::LogitDiff:
      return static_cast<double>(r[token(m.answer)]) - static_cast<double>(r[token(m.wrong)]);
    case Metric::Kind::Logit:
      return r[token(m.answer)];
    case Metric::Kind::LogProb: {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < V; ++i) mx = std::max(mx, static_cast<double>(r[i]));
      double s = 0;
      for (int64_t i = 0; i < V; ++i) s += std::exp(static_cast<double>(r[i]) - mx);
      return static_cast<double>(r[token(m.answer)]) - mx - std::log(s);
    }
    case Metric::Kind::Custom:
      break;
  }
  return 0;
}

namespace detail {

bool reads_last_only(const Metric& m) { return m.kind != Metric::Kind::Custom && m.position == -1; }

void check_metric(const Metric& m, int64_t n_vocab) {
  if (m.kind == Metric::Kind::Custom) {
    if (!m.fn) fail(ErrorKind::InvalidArgument, "patching metric: a custom metric needs a function");
    return;
  }
  auto check = [&](int32_t t, const char* what) {
    if (t < 0 || t >= n_vocab)
      fail(ErrorKind::InvalidArgument, std::string("patching metric: ") + what + " token " + std::to_string(t) +
                                           " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")");
  };
  check(m.answer, "answer");
  if (m.kind == Metric::Kind::LogitDiff) check(m.wrong, "wrong-answer");
}

double normalise(double x, double clean, double corrupted, const char* what) {
  if (clean == corrupted)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": the clean and corrupted runs have the same metric (" +
                                         std::to_string(clean) + "), so the normalised form is undefined");
  return (x - corrupted) / (clean - corrupted);
}

}  // namespace detail
}  // namespace attnscope::patching
