# shellcheck shell=bash
# shellcheck disable=SC2034  # meltano, meltc, work, QUICK, RESULTS: read by the scripts that source this
# Shared by the bench scripts (sourced): options, tools, generated projects, and the results
# file every script appends to with `--results FILE` (one JSON object per line, the format
# bench/results.py documents; bench/run turns them into docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MELTC_TEST_HOME=${MELTC_TEST_HOME:-$HOME/.cache/meltc-test}
meltano="$MELTC_TEST_HOME/bin/meltano"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
RESULTS="" QUICK=0

# bench_args "$@": --results FILE, --quick, --help (the calling script's header).
bench_args() {
  while (($#)); do
    case $1 in
      --results) RESULTS=$(realpath -m "${2:?--results needs a file}"); shift 2 ;;
      --results=*) RESULTS=$(realpath -m "${1#*=}"); shift ;;
      --quick) QUICK=1; shift ;;
      -h | --help) sed -n '2,/^set -euo\|^source/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
      *) echo "$(basename "$0"): unknown argument: $1" >&2; exit 2 ;;
    esac
  done
}

# The release binaries, hyperfine, and a work folder removed on exit.
bench_setup() {
  command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
  cargo build --release --quiet --bins
  meltc="$PWD/target/release/meltc"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
}

# The generated projects (bench/gen-project, 10 environments each), by name.
declare -A SHAPE=(
  [proj-small]="--extractors 5 --loaders 2 --jobs 20 --schedules 10"
  [proj-30]="--extractors 30 --jobs 500 --schedules 200"
  [proj-100]="--extractors 100 --jobs 500 --schedules 200"
  [proj-300]="--extractors 300 --jobs 500 --schedules 200"
  [proj-3000]="--extractors 3000 --jobs 500 --schedules 200"
)
# The environment count of each project (10 unless listed): the growth points in environments.
declare -A ENVIRONMENTS=([proj-300-100env]=100)
SHAPE[proj-300-100env]=${SHAPE[proj-300]}
# project NAME DIR: write the generated project NAME (or the example, `example`) into DIR.
project() {
  if [[ $1 == example ]]; then
    cp -r examples/lakehouse "$2"
  else
    # shellcheck disable=SC2086  # the shape is a list of options
    python3 bench/gen-project "$2" --environments "${ENVIRONMENTS[$1]:-10}" ${SHAPE[$1]}
  fi
}

# measure BENCH CASE TOOL RUNS COMMAND: time COMMAND (bash) RUNS times and append one results
# line. More than one run: hyperfine (with a warm-up run), then one run under /usr/bin/time
# for the peak RSS. One run (the slow Meltano cases): /usr/bin/time alone. A meltc command
# (a plain command line, no shell syntax) also runs once under callgrind when valgrind is
# installed: its instruction count, which a noisy machine does not change, goes next to the
# wall time.
measure() {
  local bench=$1 case=$2 tool=$3 runs=$4 command=$5
  printf '%-10s %-12s %-10s ' "$bench" "$case" "$tool" >&2
  if ((runs > 1)); then
    hyperfine --shell=bash --warmup 1 --runs "$runs" --export-json "$work/h.json" \
      --command-name "$tool" "$command" >/dev/null 2>&1 \
      || { echo "failed: $command" >&2; bash -c "$command" >&2 || true; exit 1; }
  else
    rm -f "$work/h.json"
  fi
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" bash -c "$command" >/dev/null 2>&1 \
    || { echo "failed: $command" >&2; bash -c "$command" >&2 || true; exit 1; }
  local line instructions=()
  if [[ $tool == meltc && $command != *[\;\&\|\>\<]* ]] && command -v valgrind >/dev/null; then
    # shellcheck disable=SC2086  # a plain command line: its words
    valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$work/callgrind" \
      $command >/dev/null 2>&1 || { echo "failed under callgrind: $command" >&2; exit 1; }
    instructions=(--instructions "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/callgrind" | tail -1)")
  fi
  line=$(python3 bench/results.py record --bench "$bench" --case "$case" --tool "$tool" \
    --time "$work/time" --hyperfine "$work/h.json" "${instructions[@]}")
  python3 bench/results.py show "$line" >&2
  if [[ -n $RESULTS ]]; then printf '%s\n' "$line" >>"$RESULTS"; fi
}
