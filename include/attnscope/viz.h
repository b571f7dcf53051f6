// Visualization: colormaps, publication figures (cairo: PNG, SVG or PDF chosen by the file
// extension) and the self-contained interactive attention explorer (one HTML file).
//
// Attention patterns come in as they leave a Trace: layer -> Tensor [B, H, Q, K]
// (Trace::attention_patterns()), or a single head as a Tensor [Q, K]. Token strings label the axes.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope {

// ---------------------------------------------------------------------------------------------
// Colormaps

struct Rgb {
  double r = 0, g = 0, b = 0;  // each in [0, 1]
};

// A named colormap (ColorBrewer sequential maps, matplotlib's perceptual maps, RdBu diverging).
class Colormap {
 public:
  // InvalidArgument naming the known colormaps if `name` is not one of them (case-sensitive
  // first, then case-insensitive: "blues" finds "Blues").
  static Colormap by_name(const std::string& name);
  static std::vector<std::string> names();

  const std::string& name() const { return name_; }
  bool diverging() const { return diverging_; }
  // Colour at t in [0, 1] (clamped; NaN gives the colour at 0).
  Rgb at(double t) const;
  // "#rrggbb" at t.
  std::string hex(double t) const;
  // n evenly spaced colours as "#rrggbb" (for the explorer's lookup table).
  std::vector<std::string> sample_hex(int n) const;

 private:
  std::string name_;
  bool diverging_ = false;
  std::vector<Rgb> points_;  // evenly spaced control points
};

// ---------------------------------------------------------------------------------------------
// Head naming

enum class HeadNotation { LH, Dot };  // "L5H3" or "5.3"
std::string head_label(int layer, int head, HeadNotation notation = HeadNotation::LH);

// A detected head type, for the head-type map and the explorer's overlay. Kept independent of the
// analysis API so callers can pass results from anywhere.
struct HeadTypeMark {
  int layer = 0;
  int head = 0;
  std::string label;  // "previous_token", "induction", ...
  double score = 0;
};
// A score per head, for bar charts.
struct HeadScore {
  int layer = 0;
  int head = 0;
  double score = 0;
};

// ---------------------------------------------------------------------------------------------
// Static figures

struct FigureOptions {
  std::string colormap = "Blues";
  bool mask_upper = false;     // leave future positions (key > query) blank
  std::optional<double> vmin;  // colour range; unset: from the data (0 .. max for patterns)
  std::optional<double> vmax;
  std::string title;  // empty: automatic (e.g. "L5H0")
  HeadNotation notation = HeadNotation::LH;
  int batch = 0;    // batch row of a [B, H, Q, K] pattern
  double cell = 0;  // cell size in points; 0: automatic from the token count
  bool colorbar = true;
  // Grids: at most this many panels on one page; more go to further pages (PDF: pages of one
  // file; PNG/SVG: name-2.png, name-3.png, ...). Panels are also scaled down for large grids.
  int max_panels_per_page = 64;
};

// One head: query tokens down, key tokens across. `pattern` is [B, H, Q, K] (uses `batch` and
// `head`) or [Q, K] (head ignored). `layer` only names the head in the title.
void save_head_heatmap(const std::string& path, const Tensor& pattern, int layer, int head,
                       const std::vector<std::string>& tokens, const FigureOptions& options = {});

// Layers x heads. Empty `layers`/`heads` mean all. Returns the files written (one unless paged).
std::vector<std::string> save_attention_grid(const std::string& path, const std::map<int, Tensor>& patterns,
                                             const std::vector<std::string>& tokens,
                                             const std::vector<int>& layers = {}, const std::vector<int>& heads = {},
                                             const FigureOptions& options = {});

// Mean and max over the heads of one layer, side by side.
void save_layer_summary(const std::string& path, const Tensor& layer_pattern, int layer,
                        const std::vector<std::string>& tokens, const FigureOptions& options = {});

// The same head on several prompts, side by side. patterns[i] is [B,H,Q,K] or [Q,K].
void save_prompt_comparison(const std::string& path, const std::vector<Tensor>& patterns,
                            const std::vector<std::vector<std::string>>& tokens, const std::vector<std::string>& titles,
                            int layer, int head, const FigureOptions& options = {});

// A minus B (same shape), diverging colormap (RdBu unless options.colormap is diverging), range
// symmetric around 0 unless fixed by vmin/vmax.
void save_difference(const std::string& path, const Tensor& a, const Tensor& b, int layer, int head,
                     const std::vector<std::string>& tokens, const FigureOptions& options = {});

// Layers x heads coloured by detected type (first mark per head wins; unmarked heads grey).
void save_head_type_map(const std::string& path, int n_layers, int n_heads, const std::vector<HeadTypeMark>& marks,
                        const FigureOptions& options = {});

// Bars of per-head scores (sorted high to low) with the threshold drawn as a line.
void save_score_bars(const std::string& path, const std::vector<HeadScore>& scores, double threshold,
                     const std::string& title = "Induction scores", const FigureOptions& options = {});

// Direct logit attribution (attribution.h) as a layers x (heads + MLP) grid, diverging colormap
// (RdBu unless options.colormap is diverging) symmetric around 0. heads: [L, H] logits; mlp: L
// values (may be empty: no MLP column). `subtitle` goes under the title (e.g. embedding and total).
void save_logit_attribution(const std::string& path, const Tensor& heads, const std::vector<double>& mlp,
                            const std::string& subtitle = "", const FigureOptions& options = {});

// Composition scores (attribution.h): one panel per named [L, H, L, H] matrix (e.g. Q, K, V),
// rows the writing (earlier) heads, columns the reading (later) heads, one colour range [0, max].
void save_composition_scores(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& scores,
                             const FigureOptions& options = {});

// Per-head figures side by side (e.g. the fidelity report): one layers x heads panel per named
// [L, H] tensor (all the same shape), each with its own colorbar: [0, max] for non-negative data
// with options.colormap, symmetric around 0 with RdBu otherwise. NaN cells are blank.
// `subtitle` goes under the title. InvalidArgument for no panels or mismatched shapes.
void save_head_panels(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& panels,
                      const std::string& subtitle = "", const FigureOptions& options = {});

// The same with the rows and columns labelled by the caller (e.g. heads down and tokens across for
// an activation patching sweep by position): each panel is [rows.size(), cols.size()].
// InvalidArgument for no panels, no labels, or a panel of another shape.
void save_labelled_panels(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& panels,
                          const std::vector<std::string>& rows, const std::vector<std::string>& cols,
                          const std::string& subtitle = "", const FigureOptions& options = {});

// Lines of y against x (e.g. a score versus context length), one per series, with a legend.
// NaN values leave a gap. log_x spaces x logarithmically (every x must be > 0). A threshold draws a
// dashed horizontal line. InvalidArgument for no x, a series whose length differs from x's, or
// log_x with x <= 0.
struct LineSeries {
  std::string name;
  std::vector<double> y;
};
struct LinePlotOptions {
  std::string title, x_label, y_label;
  bool log_x = false;
  std::optional<double> y_min, y_max;  // unset: from the data (0 included)
  std::optional<double> threshold;
};
void save_line_plot(const std::string& path, const std::vector<double>& x, const std::vector<LineSeries>& series,
                    const LinePlotOptions& options = {});

// True if `path` is a file this library wrote (PNG/SVG/PDF figures and explorer HTML carry a
// marker), so front ends can overwrite their own output but not anything else.
bool is_attnscope_output(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Interactive explorer

// Optional views beyond the attention weights (attribution.h computes them): a switch between
// weight / value-weighted / rollout, head thumbnails ranked by direct logit attribution for the
// locked query token, and the composition edges into and out of the selected head.
struct ExplorerDla {
  std::string name;                  // what the targets are, e.g. "top prediction", "next token"
  std::vector<std::string> targets;  // per query position, the target token's text ("" if none)
  Tensor heads;                      // [Q, L, H] logits; L = every layer of the model
};
struct ExplorerEdge {
  int src_layer = 0, src_head = 0, dst_layer = 0, dst_head = 0;
  std::string kind;  // "Q", "K", "V"
  double score = 0;
};
struct ExplorerAnalysis {
  std::map<int, Tensor> value_weighted;  // same layers and shapes as the patterns; rows normalised
  Tensor rollout;                        // [L, T, T] (attention_rollout over all layers); may be empty
  std::vector<ExplorerDla> dla;
  std::vector<ExplorerEdge> composition;
};

struct ExplorerOptions {
  std::string title = "attnscope attention explorer";
  std::string colormap = "Blues";
  int bits = 0;  // quantisation of the stored weights: 8, 16, or 0 = automatic
                 // (16 bits while the data stays small, else 8)
  int batch = 0;
  int heatmap_size = 560;                    // pixels of the main heatmap before zooming
  std::vector<HeadTypeMark> head_types;      // overlay on the thumbnails (may be empty)
  std::string subtitle;                      // e.g. model name and prompt, shown under the title
  std::optional<ExplorerAnalysis> analysis;  // extra views (absent: weights only)
};

// The explorer as one self-contained HTML document (no network access needed).
std::string explorer_html(const std::map<int, Tensor>& patterns, const std::vector<std::string>& tokens,
                          const ExplorerOptions& options = {});
// Writes explorer_html() to `path` (through a temporary file, so no partial file is left).
void save_explorer(const std::string& path, const std::map<int, Tensor>& patterns,
                   const std::vector<std::string>& tokens, const ExplorerOptions& options = {});

// Patterns from elsewhere, for the figures and the explorer without a model.
// The explorer's and figures' pattern file (`--patterns FILE.json`):
//   {"tokens": ["<s>", "a", ...], "patterns": {"<layer>": [H][Q][K] or [B][H][Q][K] numbers}}
// Numbers may be null (read as NaN: a pattern that holds non-finite values stays visible as such).
struct PatternsFile {
  std::map<int, Tensor> patterns;  // layer -> [B, H, Q, K]
  std::vector<std::string> tokens;
};

// Errors: NotFound (cannot open), Format (not JSON, wrong shape, irregular arrays, non-numbers),
// each naming the file and what is wrong.
PatternsFile read_patterns_json(const std::string& path);

// Deterministic synthetic attention patterns (no model needed): for sizing the explorer on large
// shapes (e.g. 512 tokens x 16 layers x 32 heads) and for tests. Each head is causal, rows sum to 1,
// and mixes a recognisable job (previous-token, first-token, current-token, diffuse) with noise.
// layer -> [1, heads, tokens, tokens]. Head h of any layer does job h % 4: 0 previous-token,
// 1 first-token, 2 current-token, 3 diffuse softmax of random scores.
std::map<int, Tensor> synthetic_patterns(int tokens, int layers, int heads, uint64_t seed = 1);
// "tok0", "tok1", ... as token strings.
std::vector<std::string> synthetic_tokens(int tokens);

}  // namespace attnscope
