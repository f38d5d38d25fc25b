#!/usr/bin/env bash
# Fuzzes every libFuzzer target (or only those named) for SECONDS each, on a scratch copy of
# its seed corpus, and exits non-zero if any target crashed, leaked, timed out or broke an
# invariant.
#
#   fuzz/run.sh [--build-dir DIR] [--keep-corpus] SECONDS [TARGET...]
#
#   --build-dir DIR  the BERTH_FUZZ=ON build (default: $BERTH_FUZZ_BUILD, else build-fuzz
#                    next to this checkout)
#   --keep-corpus    merge the inputs that found new coverage back into fuzz/corpus/TARGET
#                    (review and commit only the small ones)
#
# The mutation sequence is fixed (BERTH_FUZZ_SEED, default 1) so that a CI run is repeatable;
# set BERTH_FUZZ_SEED=0 for a random seed when fuzzing by hand.
#
# Crashing inputs are kept in DIR/fuzz-artifacts/TARGET/. Reproduce one with
#   DIR/fuzz/TARGET DIR/fuzz-artifacts/TARGET/crash-...
# then add it to fuzz/corpus/TARGET/ (every seed is replayed by ctest) and a unit test.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${BERTH_FUZZ_BUILD:-$(dirname "$(dirname "$here")")/build-fuzz}"
keep_corpus=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --keep-corpus) keep_corpus=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done

if [[ $# -lt 1 || ! "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh [--build-dir DIR] [--keep-corpus] SECONDS [TARGET...]" >&2
  exit 2
fi
seconds="$1"
shift

# Longest input worth trying, per target: a little over each grammar's limit.
declare -A max_len=(
  [fuzz_repository_name]=300
  [fuzz_reference]=300
  [fuzz_digest]=300
  [fuzz_range]=128
  [fuzz_manifest]=16384
  [fuzz_scope]=1024
  [fuzz_htpasswd]=4096
  [fuzz_jwt_verify]=17000
  [fuzz_credentials]=8192
  [fuzz_retention_policy]=4096
  [fuzz_challenge]=4096
)
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=(fuzz_repository_name fuzz_reference fuzz_digest fuzz_range fuzz_manifest fuzz_scope
           fuzz_htpasswd fuzz_jwt_verify fuzz_credentials fuzz_retention_policy fuzz_challenge)
fi

# Undefined behaviour is a crash too (the build also compiles with -fno-sanitize-recover).
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
# The sanitizers only symbolize stack traces when told where the symbolizer is.
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
  for symbolizer in llvm-symbolizer-16 llvm-symbolizer llvm-symbolizer-14; do
    if command -v "$symbolizer" >/dev/null; then
      export ASAN_SYMBOLIZER_PATH="$(command -v "$symbolizer")"
      break
    fi
  done
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/berth-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in "${targets[@]}"; do
  binary="$build/fuzz/$target"
  seeds="$here/corpus/$target"
  if [[ -z "${max_len[$target]:-}" ]]; then
    echo "run.sh: unknown target $target" >&2
    exit 2
  fi
  if [[ ! -x "$binary" ]]; then
    echo "run.sh: $binary is not built (configure with -DBERTH_FUZZ=ON and build it)" >&2
    exit 2
  fi
  corpus="$scratch/$target"
  artifacts="$build/fuzz-artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$seeds" ]]; then
    cp -R "$seeds/." "$corpus/"
  fi
  args=(
    -max_total_time="$seconds"
    -max_len="${max_len[$target]}"
    -timeout=10
    -rss_limit_mb=2048
    -print_final_stats=1
    -seed="${BERTH_FUZZ_SEED:-1}"
    -artifact_prefix="$artifacts/"
  )
  if [[ -f "$here/$target.dict" ]]; then
    args+=(-dict="$here/$target.dict")
  fi

  echo "=== $target: ${seconds}s, max_len ${max_len[$target]}"
  log="$scratch/$target.log"
  if "$binary" "${args[@]}" "$corpus" >"$log" 2>&1; then
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
    if [[ $keep_corpus -eq 1 && -d "$seeds" ]]; then
      "$binary" -merge=1 -max_len="${max_len[$target]}" "$seeds" "$corpus" >/dev/null 2>&1
    fi
  else
    status=$?
    tail -n 60 "$log"
    echo "=== $target FAILED (exit $status); inputs in $artifacts/" >&2
    failed+=("$target")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "all fuzz targets ran clean"
