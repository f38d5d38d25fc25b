// embedded_assets() of a berth built with BERTH_UI=OFF: no UI files.
#include "ui/assets.hpp"

namespace berth::ui {

std::span<const Asset> embedded_assets() { return {}; }

}  // namespace berth::ui
