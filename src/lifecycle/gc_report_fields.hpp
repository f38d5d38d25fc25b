// A collection's figures as a JSON object (dry_run, the counts removed, bytes_reclaimed,
// duration_ms), without the items or errors: the part of report_json() a log line carries as
// fields (server/garbage_collection.cpp). Apart from garbage_collector.hpp, which most of the
// API includes, so that using it rebuilds two files.
#pragma once

#include <boost/json/object.hpp>

#include "lifecycle/garbage_collector.hpp"

namespace berth::lifecycle {

[[nodiscard]] boost::json::object report_figures(const GcReport& report);

}  // namespace berth::lifecycle
