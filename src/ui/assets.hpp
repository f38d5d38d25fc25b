// The web UI's files, embedded in the binary at build time (src/ui/CMakeLists.txt builds ui/
// with npm and embed_ui.cmake generates the table), so that one berth binary is the whole
// server. Each text file comes with the .gz and .br copies the build made: the server never
// compresses at request time.
#pragma once

#include <span>
#include <string_view>

namespace berth::ui {

// Bytes in the binary's read-only data: [begin, end). Empty when absent.
struct Blob {
  const unsigned char* begin = nullptr;
  const unsigned char* end = nullptr;

  bool empty() const { return begin == end; }
  std::string_view view() const {
    return empty() ? std::string_view()
                   : std::string_view(reinterpret_cast<const char*>(begin),
                                      static_cast<std::size_t>(end - begin));
  }
};

struct Asset {
  // Path below the UI's root: "index.html", "assets/index-Poc37p8b.js".
  std::string_view name;
  std::string_view content_type;
  Blob raw;
  Blob gzip;
  Blob brotli;
};

// The files of the build, sorted by name; empty when berth was built with BERTH_UI=OFF.
std::span<const Asset> embedded_assets();

}  // namespace berth::ui
