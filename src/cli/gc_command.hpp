// berth gc: one garbage collection on a data directory, from the command line. Safe while a
// server runs on the same data: the "gc" lease keeps to one collector at a time, and the
// tombstone protocol keeps the server's pushes safe (lifecycle/garbage_collector.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace berth::cli {

// Exit codes of berth gc: 0 collected (or planned), 1 failed or with errors, 2 bad usage,
// 75 (EX_TEMPFAIL) another collection is running.
inline constexpr int kGcAlreadyRunning = 75;

// Adds the command; if it ran, sets exit_code.
void add_gc_command(CLI::App& app, int& exit_code);

}  // namespace berth::cli
