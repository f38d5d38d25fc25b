// The berth command line: subcommands and their flags (CLI11).
#pragma once

namespace berth::cli {

// Parses argv, runs the subcommand, returns the exit code.
int run(int argc, char** argv);

}  // namespace berth::cli
