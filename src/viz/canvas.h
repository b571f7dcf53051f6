// A drawing surface for one figure file: PNG, SVG or PDF chosen by the extension, written through
// a temporary file with the attnscope marker, with text labels recorded so the SVG also carries
// them as (invisible, searchable) <text> elements.
#pragma once
#include <cairo/cairo.h>

#include <string>
#include <vector>

namespace attnscope::detail {

enum class FigureFormat { Png, Svg, Pdf };
// From the extension (case-insensitive); InvalidArgument for anything else.
FigureFormat figure_format(const std::string& path);

// PNG pixels per point: figures are laid out in points and rasterised at this scale.
inline constexpr double kPngScale = 2.0;
// The font every figure uses (wide Unicode coverage).
inline constexpr const char* kFontFamily = "DejaVu Sans";

class Canvas {
 public:
  // Pages: PDF keeps them in one file; PNG and SVG write page k (k >= 2) to name-k.ext.
  Canvas(std::string path, double width, double height);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() { return cr_; }
  double width() const { return width_; }
  double height() const { return height_; }

  // Text in the figure font. anchor_x: 0 left, 0.5 centre, 1 right of (x, y); y is the baseline
  // centre line (text is vertically centred on y). angle in degrees, counter-clockwise positive.
  // `role` tags the SVG <text> element's class (e.g. "token-label q").
  void text(const std::string& s, double x, double y, double size, double anchor_x = 0, double angle = 0,
            const std::string& role = "", bool bold = false);
  double text_width(const std::string& s, double size, bool bold = false);

  // Finishes the current page (writing its file for PNG/SVG) and starts a new one of the given size.
  void new_page(double width, double height);
  // Writes the last page; returns every file written. Errors: Io.
  std::vector<std::string> finish();

 private:
  struct Label {
    std::string text, role;
    double x, y, size, anchor_x, angle;
  };
  void open_surface();
  void close_page();
  std::string page_path() const;

  std::string path_;
  FigureFormat format_;
  double width_, height_;
  int page_ = 1;
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
  std::string buffer_;  // SVG/PDF stream output
  std::vector<Label> labels_;
  std::vector<std::string> written_;
  bool finished_ = false;
};

// Writes bytes to path through path.tmp + rename. Errors: Io naming the path.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace attnscope::detail
