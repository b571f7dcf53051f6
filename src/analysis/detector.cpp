// AttentionPatternDetector: all scores of one head, and the types whose thresholds they reach.
#include <algorithm>
#include <cmath>
#include <string>

#include "analysis/scores_detail.h"
#include "attnscope/analysis.h"
#include "attnscope/error.h"

namespace attnscope {

namespace detail {
void check_threshold(double threshold, const char* what) {
  if (!(threshold >= 0.0 && threshold <= 1.0))
    fail(ErrorKind::InvalidArgument,
         std::string(what) + ": threshold must be in [0, 1], got " + std::to_string(threshold));
}
}  // namespace detail

std::map<std::string, double> HeadScores::to_map() const {
  std::map<std::string, double> m{
      {kPreviousToken, previous_token}, {kFirstToken, first_token}, {kCurrentToken, current_token}};
  if (induction) m[kInduction] = *induction;
  if (duplicate_token) m[kDuplicateToken] = *duplicate_token;
  return m;
}

AttentionPatternDetector::AttentionPatternDetector(double induction_threshold, double previous_token_threshold,
                                                   double first_token_threshold, double current_token_threshold,
                                                   double duplicate_token_threshold)
    : induction_(induction_threshold),
      previous_(previous_token_threshold),
      first_(first_token_threshold),
      current_(current_token_threshold),
      duplicate_(duplicate_token_threshold) {
  detail::check_threshold(induction_, "AttentionPatternDetector induction_threshold");
  detail::check_threshold(previous_, "AttentionPatternDetector previous_token_threshold");
  detail::check_threshold(first_, "AttentionPatternDetector first_token_threshold");
  detail::check_threshold(current_, "AttentionPatternDetector current_token_threshold");
  detail::check_threshold(duplicate_, "AttentionPatternDetector duplicate_token_threshold");
}

AttentionPatternDetector AttentionPatternDetector::uniform_threshold(double threshold) {
  return AttentionPatternDetector(threshold, threshold, threshold, threshold, threshold);
}

double AttentionPatternDetector::threshold(const std::string& type) const {
  if (type == kInduction) return induction_;
  if (type == kPreviousToken) return previous_;
  if (type == kFirstToken) return first_;
  if (type == kCurrentToken) return current_;
  if (type == kDuplicateToken) return duplicate_;
  fail(ErrorKind::InvalidArgument, "AttentionPatternDetector: no threshold for head type '" + type +
                                       "' (known: previous_token, first_token, current_token, induction, "
                                       "duplicate_token)");
}

namespace {
bool has_repeat(const std::vector<int32_t>& tokens) {
  std::vector<int32_t> sorted(tokens);
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
}
}  // namespace

HeadScores AttentionPatternDetector::analyze_head(const Tensor& pattern, const HeadContext& context) const {
  HeadScores s;
  s.previous_token = previous_token_score(pattern, options);
  s.first_token = first_token_score(pattern, options);
  s.current_token = current_token_score(pattern, options);
  if (context.seq_len) {
    s.induction = induction_score(pattern, *context.seq_len, options);
  } else if (!context.tokens.empty() && has_repeat(context.tokens)) {
    s.induction = induction_score(pattern, context.tokens, options);
  }
  if (!context.tokens.empty() && has_repeat(context.tokens))
    s.duplicate_token = duplicate_token_score(pattern, context.tokens, options);
  return s;
}

std::vector<std::string> AttentionPatternDetector::classify(const HeadScores& s) const {
  std::vector<std::string> types;
  const auto nan = [](const std::optional<double>& v) { return v && std::isnan(*v); };
  if (std::isnan(s.previous_token) || std::isnan(s.first_token) || std::isnan(s.current_token) || nan(s.induction) ||
      nan(s.duplicate_token))
    return {kNonFinite};
  if (s.previous_token >= previous_) types.push_back(kPreviousToken);
  if (s.first_token >= first_) types.push_back(kFirstToken);
  if (s.current_token >= current_) types.push_back(kCurrentToken);
  if (s.induction && *s.induction >= induction_) types.push_back(kInduction);
  if (s.duplicate_token && *s.duplicate_token >= duplicate_) types.push_back(kDuplicateToken);
  if (types.empty()) types.push_back(kUnknown);
  return types;
}

std::vector<std::string> AttentionPatternDetector::classify_head(const Tensor& pattern,
                                                                 const HeadContext& context) const {
  return classify(analyze_head(pattern, context));
}

}  // namespace attnscope
