// Canvas: one figure file through cairo (see canvas.h).
#include "viz/canvas.h"

#include <cairo/cairo-pdf.h>
#include <cairo/cairo-svg.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "attnscope/error.h"
#include "attnscope/tokenizer.h"
#include "viz/text.h"

namespace attnscope::detail {

namespace {

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

std::string lower_ext(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

void put_be32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xFF);
}

// A PNG tEXt chunk "Software" = "attnscope" right after IHDR marks the file as ours.
std::string mark_png(const std::string& png) {
  constexpr size_t kAfterIhdr = 8 + 4 + 4 + 13 + 4;
  if (png.size() < kAfterIhdr) return png;
  const std::string payload = std::string("Software") + '\0' + "attnscope";
  std::string chunk;
  put_be32(chunk, static_cast<uint32_t>(payload.size()));
  const std::string body = "tEXt" + payload;
  chunk += body;
  put_be32(chunk, static_cast<uint32_t>(
                      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  return png.substr(0, kAfterIhdr) + chunk + png.substr(kAfterIhdr);
}

}  // namespace

FigureFormat figure_format(const std::string& path) {
  const std::string ext = lower_ext(path);
  if (ext == ".png") return FigureFormat::Png;
  if (ext == ".svg") return FigureFormat::Svg;
  if (ext == ".pdf") return FigureFormat::Pdf;
  fail(ErrorKind::InvalidArgument,
       "figure path '" + path + "': unknown extension '" + ext + "' (use .png, .svg or .pdf)");
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(ErrorKind::Io, "cannot open '" + tmp + "' for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      fail(ErrorKind::Io, "writing '" + tmp + "' failed");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail(ErrorKind::Io, "cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  }
}

Canvas::Canvas(std::string path, double width, double height)
    : path_(std::move(path)), format_(figure_format(path_)), width_(width), height_(height) {
  open_surface();
}

Canvas::~Canvas() {
  if (cr_) cairo_destroy(cr_);
  if (surface_) cairo_surface_destroy(surface_);
}

void Canvas::open_surface() {
  width_ = std::max(1.0, std::ceil(width_));
  height_ = std::max(1.0, std::ceil(height_));
  buffer_.clear();
  labels_.clear();
  if (format_ == FigureFormat::Png) {
    // cairo images are limited to 32767 pixels a side: very large figures get fewer pixels per point.
    const double scale = std::min(kPngScale, 32000.0 / std::max(width_, height_));
    const int w = static_cast<int>(std::ceil(width_ * scale));
    const int h = static_cast<int>(std::ceil(height_ * scale));
    surface_ = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    cr_ = cairo_create(surface_);
    cairo_scale(cr_, scale, scale);
  } else if (format_ == FigureFormat::Svg) {
    surface_ = cairo_svg_surface_create_for_stream(append_to_string, &buffer_, width_, height_);
    cr_ = cairo_create(surface_);
  } else if (!surface_) {
    surface_ = cairo_pdf_surface_create_for_stream(append_to_string, &buffer_, width_, height_);
    cairo_pdf_surface_set_metadata(surface_, CAIRO_PDF_METADATA_CREATOR, "attnscope");
    cr_ = cairo_create(surface_);
  }
  if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS)
    fail(ErrorKind::InvalidArgument, "figure '" + path_ + "': cannot create a " +
                                         std::to_string(static_cast<int>(width_)) + "x" +
                                         std::to_string(static_cast<int>(height_)) +
                                         " surface: " + cairo_status_to_string(cairo_surface_status(surface_)));
  // White background (PNG would otherwise be transparent).
  cairo_set_source_rgb(cr_, 1, 1, 1);
  cairo_rectangle(cr_, 0, 0, width_, height_);
  cairo_fill(cr_);
}

void Canvas::text(const std::string& s, double x, double y, double size, double anchor_x, double angle,
                  const std::string& role, bool bold) {
  const std::string t = valid_utf8(s);
  cairo_save(cr_);
  cairo_select_font_face(cr_, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, size);
  cairo_text_extents_t te;
  cairo_text_extents(cr_, t.c_str(), &te);
  cairo_font_extents_t fe;
  cairo_font_extents(cr_, &fe);
  cairo_translate(cr_, x, y);
  cairo_rotate(cr_, -angle * std::numbers::pi / 180.0);
  cairo_move_to(cr_, -anchor_x * te.x_advance, (fe.ascent - fe.descent) / 2);
  cairo_show_text(cr_, t.c_str());
  cairo_restore(cr_);
  if (format_ == FigureFormat::Svg) labels_.push_back({t, role, x, y, size, anchor_x, angle});
}

double Canvas::text_width(const std::string& s, double size, bool bold) {
  const std::string t = valid_utf8(s);
  cairo_save(cr_);
  cairo_select_font_face(cr_, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr_, size);
  cairo_text_extents_t te;
  cairo_text_extents(cr_, t.c_str(), &te);
  cairo_restore(cr_);
  return te.x_advance;
}

std::string Canvas::page_path() const {
  if (page_ == 1) return path_;
  const std::filesystem::path p(path_);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(page_) + p.extension().string())).string();
}

void Canvas::close_page() {
  if (format_ == FigureFormat::Pdf) return;  // pages stay in one file
  const std::string out_path = page_path();
  std::string bytes;
  if (format_ == FigureFormat::Png) {
    cairo_surface_flush(surface_);
    std::string png;
    const cairo_status_t st = cairo_surface_write_to_png_stream(surface_, append_to_string, &png);
    if (st != CAIRO_STATUS_SUCCESS)
      fail(ErrorKind::Io, "figure '" + out_path + "': PNG encoding failed: " + cairo_status_to_string(st));
    bytes = mark_png(png);
  } else {
    cairo_destroy(cr_);
    cr_ = nullptr;
    cairo_surface_finish(surface_);
    if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS)
      fail(ErrorKind::Io,
           "figure '" + out_path + "': SVG output failed: " + cairo_status_to_string(cairo_surface_status(surface_)));
    bytes = buffer_;
    // Mark the file and add the labels as invisible text, so the SVG can be searched and checked.
    const size_t decl = bytes.find("?>");
    const size_t at = decl == std::string::npos ? 0 : decl + 2;
    bytes.insert(at, "\n<!-- generator: attnscope -->");
    std::string layer = "<g id=\"attnscope-text\" fill-opacity=\"0\" font-family=\"DejaVu Sans\">\n";
    for (const auto& l : labels_) {
      char geo[256];
      const char* anchor = l.anchor_x < 0.25 ? "start" : (l.anchor_x > 0.75 ? "end" : "middle");
      std::snprintf(geo, sizeof geo,
                    "x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\" text-anchor=\"%s\" "
                    "dominant-baseline=\"central\" transform=\"rotate(%.2f %.2f %.2f)\"",
                    l.x, l.y, l.size, anchor, -l.angle, l.x, l.y);
      layer += "<text class=\"" + xml_escape(l.role) + "\" " + geo + ">" + xml_escape(l.text) + "</text>\n";
    }
    layer += "</g>\n";
    const size_t end = bytes.rfind("</svg>");
    if (end == std::string::npos) fail(ErrorKind::Io, "figure '" + out_path + "': cairo produced no </svg>");
    bytes.insert(end, layer);
  }
  write_file_atomically(out_path, bytes);
  written_.push_back(out_path);
}

void Canvas::new_page(double width, double height) {
  if (format_ == FigureFormat::Pdf) {
    cairo_show_page(cr_);
    width_ = std::max(1.0, std::ceil(width));
    height_ = std::max(1.0, std::ceil(height));
    cairo_pdf_surface_set_size(surface_, width_, height_);
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_rectangle(cr_, 0, 0, width_, height_);
    cairo_fill(cr_);
    ++page_;
    return;
  }
  close_page();
  if (cr_) cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
  cr_ = nullptr;
  surface_ = nullptr;
  ++page_;
  width_ = width;
  height_ = height;
  open_surface();
}

std::vector<std::string> Canvas::finish() {
  if (finished_) return written_;
  finished_ = true;
  if (format_ == FigureFormat::Pdf) {
    cairo_destroy(cr_);
    cr_ = nullptr;
    cairo_surface_finish(surface_);
    if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS)
      fail(ErrorKind::Io,
           "figure '" + path_ + "': PDF output failed: " + cairo_status_to_string(cairo_surface_status(surface_)));
    write_file_atomically(path_, buffer_);
    written_.push_back(path_);
  } else {
    close_page();
  }
  return written_;
}

}  // namespace attnscope::detail
