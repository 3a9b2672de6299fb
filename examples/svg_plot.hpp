// examples/svg_plot.hpp — line plots as standalone SVG text (no plotting dependency).
//
// One figure = panels side by side with a shared y range; series i has the same colour in every
// panel and one legend entry.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace protoot::examples {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;  ///< e.g. ablations, so that lines lying on top of each other stay visible
};

struct PlotPanel {
  std::string title;
  std::vector<PlotSeries> series;
};

namespace detail {

inline std::string escape_xml(const std::string& text) {
  std::string out;
  for (const char c : text) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

/// Round tick positions (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].
inline std::vector<double> nice_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = power * (raw / power < 1.5 ? 1 : raw / power < 3.5 ? 2 : raw / power < 7.5 ? 5 : 10);
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(t);
  return ticks;
}

}  // namespace detail

/// Writes the panels as one SVG figure to `path`; throws std::runtime_error if it cannot.
inline void write_line_plots(const std::string& path, const std::vector<PlotPanel>& panels,
                             const std::string& x_label, const std::string& y_label) {
  static const char* colours[] = {"#444444", "#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
  const double w = 420, h = 320, left = 60, right = 20, top = 40, bottom = 50, legend = 170;
  double x0 = 1e300, x1 = -1e300, y0 = 0, y1 = 0;
  for (const auto& panel : panels)
    for (const auto& s : panel.series) {
      for (double v : s.x) x0 = std::min(x0, v), x1 = std::max(x1, v);
      for (double v : s.y) y1 = std::max(y1, v);
    }
  if (!(x1 > x0)) x1 = x0 + 1;
  y1 = std::max(10.0, std::ceil(y1 / 10) * 10);
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w * panels.size() + legend << "' height='" << h
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const double ox = w * p, pw = w - left - right, ph = h - top - bottom;
    const auto px = [&](double v) { return ox + left + (v - x0) / (x1 - x0) * pw; };
    const auto py = [&](double v) { return top + ph - (v - y0) / (y1 - y0) * ph; };
    svg << "<text x='" << ox + left + pw / 2 << "' y='24' text-anchor='middle' font-size='14'>"
        << detail::escape_xml(panels[p].title) << "</text>\n";
    svg << "<rect x='" << ox + left << "' y='" << top << "' width='" << pw << "' height='" << ph
        << "' fill='none' stroke='black'/>\n";
    for (double t : detail::nice_ticks(x0, x1))
      svg << "<line x1='" << px(t) << "' y1='" << top + ph << "' x2='" << px(t) << "' y2='" << top + ph + 5
          << "' stroke='black'/><text x='" << px(t) << "' y='" << top + ph + 18 << "' text-anchor='middle'>" << t
          << "</text>\n";
    for (double t : detail::nice_ticks(y0, y1))
      svg << "<line x1='" << ox + left << "' y1='" << py(t) << "' x2='" << ox + left + pw << "' y2='" << py(t)
          << "' stroke='#dddddd'/><text x='" << ox + left - 6 << "' y='" << py(t) + 4 << "' text-anchor='end'>" << t
          << "</text>\n";
    svg << "<text x='" << ox + left + pw / 2 << "' y='" << h - 10 << "' text-anchor='middle'>"
        << detail::escape_xml(x_label) << "</text>\n";
    svg << "<text transform='translate(" << ox + 16 << "," << top + ph / 2 << ") rotate(-90)' text-anchor='middle'>"
        << detail::escape_xml(y_label) << "</text>\n";
    for (std::size_t s = 0; s < panels[p].series.size(); ++s) {
      const auto& series = panels[p].series[s];
      svg << "<polyline fill='none' stroke-width='2' stroke='" << colours[s % 7]
          << (series.dashed ? "' stroke-dasharray='6,4" : "") << "' points='";
      for (std::size_t i = 0; i < series.x.size() && i < series.y.size(); ++i)
        svg << px(series.x[i]) << ',' << py(series.y[i]) << ' ';
      svg << "'/>\n";
    }
  }
  if (!panels.empty())
    for (std::size_t s = 0; s < panels[0].series.size(); ++s) {
      const double lx = w * panels.size() + 10, ly = top + 10 + 20 * s;
      svg << "<line x1='" << lx << "' y1='" << ly << "' x2='" << lx + 24 << "' y2='" << ly << "' stroke-width='2' stroke='"
          << colours[s % 7] << (panels[0].series[s].dashed ? "' stroke-dasharray='6,4" : "") << "'/><text x='" << lx + 30 << "' y='" << ly + 4 << "'>"
          << detail::escape_xml(panels[0].series[s].name) << "</text>\n";
    }
  svg << "</svg>\n";
  std::ofstream out(path);
  out << svg.str();
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace protoot::examples
