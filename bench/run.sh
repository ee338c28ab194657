#!/usr/bin/env bash
# Prints the benchmark figures.
# Usage: bench/run.sh [--only csv|web] [rows...]
#   (no --only)   both benches: the CSV end-to-end bench, then the dashboard load bench
#   --only csv    only the CSV end-to-end bench; rows default to 100000 1000000
#   --only web    only the dashboard load bench (10,000 jobs, 100 clients); BENCH_WEB_SECONDS sets its length (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
only=""
if [[ "${1:-}" == "--only" ]]; then
    only="${2:-}"
    shift 2 || { echo "usage: bench/run.sh [--only csv|web] [rows...]" >&2; exit 2; }
    if [[ "$only" != "csv" && "$only" != "web" ]]; then
        echo "usage: bench/run.sh [--only csv|web] [rows...]" >&2
        exit 2
    fi
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(dotnet --version), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "$only" != "web" ]]; then
    dotnet build src/BatchPilot.Cli -c Release -o bench/out/cli -v quiet -nologo >/dev/null
    dotnet build bench/BatchPilot.Bench -c Release -o bench/out/bench -v quiet -nologo >/dev/null
    dotnet bench/out/bench/BatchPilot.Bench.dll "$PWD/bench/out/cli/batchpilot.dll" "$@"
fi

if [[ "$only" != "csv" ]]; then
    dotnet build bench/BatchPilot.Web.Bench -c Release -o bench/out/web -v quiet -nologo >/dev/null
    dotnet bench/out/web/BatchPilot.Web.Bench.dll "${BENCH_WEB_SECONDS:-30}"
fi
