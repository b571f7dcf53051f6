// Planning a scan: metrics, tokenized and checked units, batches, and the fingerprint that ties
// a journal to the scan that wrote it.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "analysis/run_detail.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/scan.h"

namespace attnscope {

namespace {

// FNV-1a, 64 bit: a stable digest (std::hash is not specified across platforms).
struct Fnv1a {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 0x100000001b3ull;
  }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void u64(uint64_t v) { bytes(&v, sizeof v); }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

}  // namespace

std::vector<std::string> scan_metrics(const ScanOptions& o) {
  std::vector<std::string> m;
  for (const char* s : {kPreviousToken, kFirstToken, kCurrentToken, kInduction, kDuplicateToken}) {
    m.push_back(s);
    m.push_back(std::string(s) + kCorrectedSuffix);
  }
  for (const auto& [name, fn] : o.custom) {
    if (name.empty() || !fn) fail(ErrorKind::InvalidArgument, "scan: a custom pattern needs a name and a function");
    if (std::find(m.begin(), m.end(), name) != m.end())
      fail(ErrorKind::InvalidArgument, "scan: custom pattern name '" + name + "' is already a metric");
    m.push_back(name);
  }
  if (o.induction_seeds > 0) {
    m.push_back(kInductionRandom);
    m.push_back(std::string(kInductionRandom) + kCorrectedSuffix);
  }
  if (o.ablation) {
    m.push_back(kAblationDeltaLogit);
    m.push_back(kAblationDeltaProb);
  }
  return m;
}

ScanPlan plan_scan(const Model& model, const Corpus& corpus, const ScanOptions& o) {
  const ModelConfig& c = model.config();
  if (o.max_batch < 1)
    fail(ErrorKind::InvalidArgument, "scan: max_batch must be >= 1, got " + std::to_string(o.max_batch));
  if (o.induction_seeds < 0) fail(ErrorKind::InvalidArgument, "scan: induction_seeds must be >= 0");
  if (o.ablation && o.ablation_target >= c.n_vocab)
    fail(ErrorKind::InvalidArgument, "scan: ablation target " + std::to_string(o.ablation_target) +
                                         " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
  ScanPlan plan;
  plan.metrics = scan_metrics(o);
  plan.layers = detail::checked_layers(model, o.layers, "scan");
  plan.n_head = c.n_head;
  plan.corpus.skipped = corpus.skipped;

  for (const CorpusPrompt& p : corpus.prompts) {
    std::vector<int32_t> ids = model.encode(p.text, o.add_bos);
    if (ids.empty()) {
      reject_input(plan.corpus, {p.source, p.line, "no tokens"}, o.on_bad_input);
      continue;
    }
    if (c.n_ctx > 0 && static_cast<int64_t>(ids.size()) > c.n_ctx) {
      reject_input(plan.corpus,
                   {p.source, p.line,
                    "prompt of " + std::to_string(ids.size()) + " tokens is longer than the model's context of " +
                        std::to_string(c.n_ctx)},
                   o.on_bad_input);
      continue;
    }
    plan.corpus.prompts.push_back(p);
    ScanUnit u;
    u.index = static_cast<int64_t>(plan.units.size());
    u.prompt = p.index;
    u.ids = std::move(ids);
    plan.units.push_back(std::move(u));
  }
  if (o.induction_seeds > 0) {
    const int32_t bos = model.has_tokenizer() ? model.tokenizer().bos_id() : -1;
    const int64_t length = int64_t{o.induction_tokens} * o.induction_repeats + (bos >= 0 ? 1 : 0);
    if (c.n_ctx > 0 && length > c.n_ctx)
      fail(ErrorKind::InvalidArgument, "scan: random induction sequences of " + std::to_string(length) +
                                           " tokens are longer than the model's context of " + std::to_string(c.n_ctx));
    const std::vector<int32_t> pool = random_token_pool(model);
    for (int s = 0; s < o.induction_seeds; ++s) {
      ScanUnit u;
      u.index = static_cast<int64_t>(plan.units.size());
      u.kind = ScanUnit::Kind::RandomInduction;
      u.seed = o.induction_seed + static_cast<uint64_t>(s);
      u.ids = random_repeated_tokens(pool, bos, o.induction_tokens, o.induction_repeats, u.seed);
      plan.units.push_back(std::move(u));
    }
  }
  if (plan.units.empty()) fail(ErrorKind::InvalidArgument, "scan: nothing to scan (every prompt was skipped)");

  // Batches: max_batch units at a time in order of length (ties: unit order), so rows of a batch
  // have about the same length and pad little.
  std::vector<int64_t> order(plan.units.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return plan.units[static_cast<size_t>(a)].ids.size() < plan.units[static_cast<size_t>(b)].ids.size();
  });
  for (int64_t u : order) {
    if (plan.batches.empty() || static_cast<int>(plan.batches.back().size()) >= o.max_batch)
      plan.batches.emplace_back();
    plan.batches.back().push_back(u);
  }

  Fnv1a f;
  f.str(model.source());
  for (int v : {c.n_layer, c.n_head, c.n_embd, c.n_vocab}) f.u64(static_cast<uint64_t>(v));
  for (const auto& m : plan.metrics) f.str(m);
  for (int l : plan.layers) f.u64(static_cast<uint64_t>(l));
  f.u64(o.ablation ? static_cast<uint64_t>(o.ablation_target) + 2 : 0);
  f.u64(static_cast<uint64_t>(o.induction_tokens));
  f.u64(static_cast<uint64_t>(o.induction_repeats));
  f.u64(o.padding == Padding::Left ? 1 : 0);
  for (const auto& b : plan.batches) {
    f.u64(b.size());
    for (int64_t u : b) f.u64(static_cast<uint64_t>(u));
  }
  for (const auto& u : plan.units) {
    f.u64(static_cast<uint64_t>(u.prompt));
    f.u64(u.seed);
    f.u64(u.ids.size());
    f.bytes(u.ids.data(), u.ids.size() * sizeof(int32_t));
  }
  plan.fingerprint = f.hex();
  return plan;
}

}  // namespace attnscope
