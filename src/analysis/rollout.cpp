// Attention rollout and attention flow (Abnar & Zuidema 2020; see attribution.h). The flow is a
// maximum flow in the layered attention graph, computed with Boost.Graph's Edmonds-Karp (every
// augmentation saturates an edge, so real-valued capacities terminate).
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/edmonds_karp_max_flow.hpp>
#include <string>

#include "attnscope/attribution.h"
#include "attnscope/error.h"

namespace attnscope {

namespace {

// A~_l = 0.5 mean_h(A_l) + 0.5 I, rows renormalised, for every layer: [L][T * T] (doubles).
std::vector<std::vector<double>> residual_averaged(const std::map<int, Tensor>& patterns, int batch, int64_t* T_out) {
  if (patterns.empty()) fail(ErrorKind::InvalidArgument, "attention rollout: no attention patterns");
  const int L = static_cast<int>(patterns.size());
  if (patterns.begin()->first != 0 || patterns.rbegin()->first != L - 1)
    fail(ErrorKind::InvalidArgument, "attention rollout needs every layer's pattern from 0 on; got layers " +
                                         std::to_string(patterns.begin()->first) + ".." +
                                         std::to_string(patterns.rbegin()->first) + " (" + std::to_string(L) +
                                         " of them)");
  const Tensor& first = patterns.begin()->second;
  if (first.ndim() != 4 || first.dim(2) != first.dim(3))
    fail(ErrorKind::InvalidArgument, "attention rollout: patterns must be [B, H, T, T], got " + first.shape_str());
  const int64_t H = first.dim(1), T = first.dim(2);
  std::vector<std::vector<double>> out;
  for (const auto& [l, a] : patterns) {
    if (a.shape() != first.shape())
      fail(ErrorKind::InvalidArgument, "attention rollout: layer " + std::to_string(l) + " pattern is " +
                                           a.shape_str() + ", layer 0's " + first.shape_str());
    if (batch < 0 || batch >= a.dim(0))
      fail(ErrorKind::InvalidArgument,
           "attention rollout: batch " + std::to_string(batch) + " out of range for " + a.shape_str());
    std::vector<double> m(static_cast<size_t>(T * T), 0.0);
    for (int64_t h = 0; h < H; ++h) {
      const float* p = a.data() + (batch * H + h) * T * T;
      for (int64_t i = 0; i < T * T; ++i) m[i] += p[i] / static_cast<double>(H);
    }
    for (int64_t i = 0; i < T; ++i) {
      double sum = 0;
      for (int64_t j = 0; j < T; ++j) {
        double& v = m[i * T + j];
        v = 0.5 * v + (i == j ? 0.5 : 0.0);
        sum += v;
      }
      if (sum > 0)
        for (int64_t j = 0; j < T; ++j) m[i * T + j] /= sum;
    }
    out.push_back(std::move(m));
  }
  *T_out = T;
  return out;
}

}  // namespace

Tensor attention_rollout(const std::map<int, Tensor>& patterns, int batch) {
  int64_t T = 0;
  const auto a = residual_averaged(patterns, batch, &T);
  const int64_t L = static_cast<int64_t>(a.size());
  Tensor out({L, T, T});
  std::vector<double> r = a[0], next(static_cast<size_t>(T * T));
  for (int64_t l = 0; l < L; ++l) {
    if (l > 0) {  // R_l = A~_l R_{l-1}
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) {
          double s = 0;
          for (int64_t m = 0; m < T; ++m) s += a[l][i * T + m] * r[m * T + j];
          next[i * T + j] = s;
        }
      r.swap(next);
    }
    for (int64_t i = 0; i < T * T; ++i) out.data()[l * T * T + i] = static_cast<float>(r[i]);
  }
  return out;
}

Tensor attention_flow(const std::map<int, Tensor>& patterns, const std::vector<int>& queries, int batch) {
  int64_t T = 0;
  const auto a = residual_averaged(patterns, batch, &T);
  const int64_t L = static_cast<int64_t>(a.size());
  std::vector<int> qs = queries;
  if (qs.empty())
    for (int64_t i = 0; i < T; ++i) qs.push_back(static_cast<int>(i));
  for (int q : qs)
    if (q < 0 || q >= T)
      fail(ErrorKind::InvalidArgument, "attention flow: query position " + std::to_string(q) + " is outside the " +
                                           std::to_string(T) + "-token sequence");

  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using Graph = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::directedS, boost::no_property,
      boost::property<boost::edge_capacity_t, double,
                      boost::property<boost::edge_residual_capacity_t, double,
                                      boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  // Node (l, i): token i's representation after l layers (l = 0: the input); edges (l+1, i) -> (l,
  // j).
  Graph g(static_cast<size_t>((L + 1) * T));
  auto cap = boost::get(boost::edge_capacity, g);
  auto rev = boost::get(boost::edge_reverse, g);
  auto node = [T](int64_t l, int64_t i) { return static_cast<size_t>(l * T + i); };
  for (int64_t l = 0; l < L; ++l)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        const double c = a[l][i * T + j];
        if (c <= 0) continue;
        auto e = boost::add_edge(node(l + 1, i), node(l, j), g).first;
        auto r = boost::add_edge(node(l, j), node(l + 1, i), g).first;
        cap[e] = c;
        cap[r] = 0;
        rev[e] = r;
        rev[r] = e;
      }
  Tensor out({static_cast<int64_t>(qs.size()), T});
  for (size_t qi = 0; qi < qs.size(); ++qi)
    for (int64_t j = 0; j <= qs[qi]; ++j)
      out.data()[qi * T + j] = static_cast<float>(boost::edmonds_karp_max_flow(g, node(L, qs[qi]), node(0, j)));
  return out;
}

}  // namespace attnscope
