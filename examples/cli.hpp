// examples/cli.hpp — what protoot-retrieve and protoot-train-head share: one argument parser
// with range-checked numbers, the shared defaults, and an all-or-nothing output set.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "head/protoot_trainer.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace protoot::examples {

/// Defaults both programs use.
constexpr int default_epochs = TrainConfig{}.epochs;

/// A command-line mistake: the program prints the message and its usage text.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// The whole of `text` as an integer in [lo, hi]; UsageError naming `flag` otherwise (no
/// wrapping: "4294967297" is out of range, "-1" is not a count).
template <class T>
T parse_integer(const std::string& flag, const std::string& text, T lo, T hi) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < (long long)lo ||
      value > (long long)hi)
    throw UsageError(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                     text + "'");
  return T(value);
}

/// The whole of `text` as a finite real in [lo, hi]; UsageError naming `flag` otherwise.
inline double parse_real(const std::string& flag, const std::string& text, double lo, double hi) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
      value < lo || value > hi) {
    char range[96];
    std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    throw UsageError(flag + " needs a finite number in " + range + ", got '" + text + "'");
  }
  return value;
}

/// "HxW" (e.g. 8x8) as {H, W}, each in [1, 65536]; UsageError naming `flag` otherwise.
inline std::pair<int, int> parse_image_shape(const std::string& flag, const std::string& text) {
  const std::size_t x = text.find('x');
  if (x == std::string::npos) throw UsageError(flag + " needs HEIGHTxWIDTH (e.g. 8x8), got '" + text + "'");
  return {parse_integer<int>(flag + " height", text.substr(0, x), 1, 65536),
          parse_integer<int>(flag + " width", text.substr(x + 1), 1, 65536)};
}

/// "SCALE,SHEAR,SHIFT" (e.g. 1.25,0.2,0.75) as the image views' warp limits of `warp`
/// (AugmentationConfig::max_scale in [1, 10], max_shear in [0, 10], max_shift in [0, 65536]
/// pixels); UsageError naming `flag` otherwise.
inline void parse_image_warp(const std::string& flag, const std::string& text, AugmentationConfig& warp) {
  const std::size_t first = text.find(','), second = first == std::string::npos ? first : text.find(',', first + 1);
  if (second == std::string::npos || text.find(',', second + 1) != std::string::npos)
    throw UsageError(flag + " needs SCALE,SHEAR,SHIFT (e.g. 1.15,0.1,0.5), got '" + text + "'");
  const double scale = parse_real(flag + " scale", text.substr(0, first), 1, 10);
  const double shear = parse_real(flag + " shear", text.substr(first + 1, second - first - 1), 0, 10);
  const double shift = parse_real(flag + " shift", text.substr(second + 1), 0, 65536);
  warp.max_scale = scale;  // all three or none
  warp.max_shear = shear;
  warp.max_shift = shift;
}

/// Flags with a value and switches without one, parsed in one pass.
class ArgumentParser {
 public:
  void option(const std::string& flag, std::function<void(const std::string&)> set) { options_[flag] = std::move(set); }
  void flag(const std::string& flag, std::function<void()> set) { switches_[flag] = std::move(set); }
  /// A check across flags, run after every argument has been applied (throws UsageError).
  void check(std::function<void()> after) { checks_.push_back(std::move(after)); }

  /// Applies argv[1..]; returns false when --help/-h was given (nothing else is applied).
  bool parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") return false;
    for (int i = 1; i < argc; ++i) {
      const std::string name = argv[i];
      if (const auto s = switches_.find(name); s != switches_.end()) {
        s->second();
      } else if (const auto o = options_.find(name); o != options_.end()) {
        if (i + 1 >= argc) throw UsageError(name + " needs a value");
        o->second(argv[++i]);
      } else {
        throw UsageError("unknown argument '" + name + "'");
      }
    }
    for (const auto& after : checks_) after();
    return true;
  }

 private:
  std::map<std::string, std::function<void(const std::string&)>> options_;
  std::map<std::string, std::function<void()>> switches_;
  std::vector<std::function<void()>> checks_;
};

/// --image-shape HxW and --image-warp S,H,T, the image views of both programs, into `views`
/// (which must outlive the parse); --image-warp without --image-shape is a UsageError.
inline void add_image_view_options(ArgumentParser& p, AugmentationConfig& views) {
  p.option("--image-shape", [&views](const std::string& v) {
    std::tie(views.image_height, views.image_width) = parse_image_shape("--image-shape", v);
  });
  auto warp_given = std::make_shared<bool>(false);
  p.option("--image-warp", [&views, warp_given](const std::string& v) {
    parse_image_warp("--image-warp", v, views);
    *warp_given = true;
  });
  p.check([&views, warp_given] {
    if (*warp_given && views.image_height == 0) throw UsageError("--image-warp needs --image-shape");
  });
}

/// A run's output files, all or nothing: each file is written to a temporary name in the
/// output folder and synced; commit() renames them into place together at the end, so an
/// interrupted or failed run leaves the previous results as they were (a rename within one
/// folder is atomic; only the few renames of commit() itself, microseconds apart, are not one
/// step). Uncommitted temporaries are removed on destruction.
class OutputSet {
 public:
  /// Creates `folder` (and parents) and checks that files can be created in it, before any
  /// work is done. Throws std::runtime_error naming the folder otherwise.
  explicit OutputSet(std::string folder) : folder_(std::move(folder)) {
    std::error_code error;
    std::filesystem::create_directories(folder_, error);
    if (error || !std::filesystem::is_directory(folder_))
      throw std::runtime_error("cannot create the output folder '" + folder_ + "'" +
                               (error ? ": " + error.message() : ""));
    const std::string probe = temporary("write-check");
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) throw std::runtime_error("cannot write in the output folder '" + folder_ + "'");
    ::close(fd);
    std::remove(probe.c_str());
  }
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet() {
    for (const auto& f : staged_) std::remove(f.temporary.c_str());
  }

  const std::string& folder() const { return folder_; }

  /// Writes `name` through `write(path)` to a temporary path, then syncs it; the file appears
  /// under its name only at commit().
  void stage(const std::string& name, const std::function<void(const std::string&)>& write) {
    const std::string path = temporary(name);
    staged_.push_back({path, folder_ + "/" + name});
    write(path);
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0 || ::fsync(fd) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("cannot write '" + staged_.back().final_path + "'");
    }
    ::close(fd);
  }

  /// Text content, checked for write errors (a full disk fails here, not silently).
  void stage_text(const std::string& name, const std::string& text) {
    stage(name, [&](const std::string& path) {
      std::FILE* f = std::fopen(path.c_str(), "wb");
      const bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
      if (f && std::fclose(f) != 0) throw std::runtime_error("cannot write '" + folder_ + "/" + name + "'");
      if (!ok) throw std::runtime_error("cannot write '" + folder_ + "/" + name + "'");
    });
  }

  /// Moves every staged file into place.
  void commit() {
    for (const auto& f : staged_)
      if (std::rename(f.temporary.c_str(), f.final_path.c_str()) != 0)
        throw std::runtime_error("cannot rename into '" + f.final_path + "'");
    staged_.clear();
  }

 private:
  struct Staged {
    std::string temporary, final_path;
  };
  std::string temporary(const std::string& name) const {
    return folder_ + "/." + name + ".tmp-" + std::to_string(::getpid());
  }
  std::string folder_;
  std::vector<Staged> staged_;
};

}  // namespace protoot::examples
