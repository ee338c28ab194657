#!/usr/bin/env bash
# Prints the benchmark figures.
# Usage: bench/run.sh [--only csv|web|sync] [rows...]
#   (no --only)   every bench: the CSV end-to-end bench, the dashboard load bench, then the sync bench
#   --only csv    only the CSV end-to-end bench; rows default to 100000 1000000
#   --only web    only the dashboard load bench (10,000 jobs, 100 clients); BENCH_WEB_SECONDS sets its length (default 30)
#   --only sync   only the sync-mode bench: throughput against the emulator with zero latency (BENCH_SYNC_ITEMS requests,
#                 default 50000, BENCH_SYNC_CONCURRENCY in flight, default 64), then 3,000 RPM / 300,000 TPM for
#                 BENCH_SYNC_SECONDS (default 60): achieved rate as a fraction of each limit, and the 429s
set -euo pipefail
cd "$(dirname "$0")/.."
only=""
if [[ "${1:-}" == "--only" ]]; then
    only="${2:-}"
    shift 2 || { echo "usage: bench/run.sh [--only csv|web|sync] [rows...]" >&2; exit 2; }
    if [[ "$only" != "csv" && "$only" != "web" && "$only" != "sync" ]]; then
        echo "usage: bench/run.sh [--only csv|web|sync] [rows...]" >&2
        exit 2
    fi
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(dotnet --version), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "$only" == "" || "$only" == "csv" ]]; then
    dotnet build src/BatchPilot.Cli -c Release -o bench/out/cli -v quiet -nologo >/dev/null
    dotnet build bench/BatchPilot.Bench -c Release -o bench/out/bench -v quiet -nologo >/dev/null
    dotnet bench/out/bench/BatchPilot.Bench.dll "$PWD/bench/out/cli/batchpilot.dll" "$@"
fi

if [[ "$only" == "" || "$only" == "web" ]]; then
    dotnet build bench/BatchPilot.Web.Bench -c Release -o bench/out/web -v quiet -nologo >/dev/null
    dotnet bench/out/web/BatchPilot.Web.Bench.dll "${BENCH_WEB_SECONDS:-30}"
fi

if [[ "$only" == "" || "$only" == "sync" ]]; then
    dotnet build bench/BatchPilot.Sync.Bench -c Release -o bench/out/sync -v quiet -nologo >/dev/null
    dotnet bench/out/sync/BatchPilot.Sync.Bench.dll "${BENCH_SYNC_ITEMS:-50000}" "${BENCH_SYNC_SECONDS:-60}" "${BENCH_SYNC_CONCURRENCY:-64}"
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
