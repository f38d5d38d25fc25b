#include "core/progress.hpp"

#include <cstdio>
#include <utility>

#include "core/human_bytes.hpp"

namespace berth::core {

ProgressReporter::ProgressReporter(std::string label, std::string items, bool terminal, Write write,
                                   Now now, std::chrono::milliseconds interval)
    : label_(std::move(label)),
      items_(std::move(items)),
      terminal_(terminal),
      write_(std::move(write)),
      now_(std::move(now)),
      interval_(interval),
      start_(now_()) {}

std::string ProgressReporter::figures() const {
  std::string text = std::to_string(progress_.items);
  if (progress_.items_total != 0) {
    text += "/" + std::to_string(progress_.items_total);
  }
  text += " " + items_;
  if (progress_.bytes != 0 || progress_.bytes_total != 0) {
    text += ", " + human_bytes(progress_.bytes);
    if (progress_.bytes_total != 0) {
      text += "/" + human_bytes(progress_.bytes_total);
    }
  }
  const auto elapsed = std::chrono::duration<double>(now_() - start_).count();
  if (elapsed > 0 && progress_.bytes != 0) {
    text += ", " + human_bytes(static_cast<std::uint64_t>(progress_.bytes / elapsed)) + "/s";
  }
  return text;
}

void ProgressReporter::update(const Progress& progress) {
  progress_ = progress;
  if (!terminal_) {
    return;
  }
  const auto now = now_();
  if (drawn_ && now - last_draw_ < interval_) {
    return;
  }
  drawn_ = true;
  last_draw_ = now;
  // \r back to the start of the line, \x1b[K (erase to its end) for a shorter line than the last.
  write_("\r" + label_ + ": " + figures() + "\x1b[K");
}

void ProgressReporter::finish(std::string_view outcome) {
  const auto elapsed = std::chrono::duration<double>(now_() - start_).count();
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f s", elapsed);
  std::string line = label_ + ": " + figures() + " in " + seconds;
  if (!outcome.empty()) {
    line += ", " + std::string(outcome);
  }
  write_(terminal_ ? "\r" + line + "\x1b[K\n" : line + "\n");
}

}  // namespace berth::core
