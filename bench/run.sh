#!/usr/bin/env bash
# Prints the benchmark figures.
# Usage: bench/run.sh [--only csv|io|web|sync] [rows...]
#   (no --only)   every bench: the CSV end-to-end bench, the input/output bench, the dashboard load bench, then the sync bench
#   --only csv    only the CSV end-to-end bench; rows default to 100000 1000000
#   --only io     only the input/output bench (rows default to 100000 1000000, the RSS ratios compare the last to the first):
#                 request preparation (CSV or JSONL read, prompt rendered, OpenAI/Anthropic request files written) and the
#                 exports of a finished job in a SQLite store (csv, jsonl, md, docx, xlsx), each in its own process with
#                 its peak RSS; BENCH_IO_PARTS=prepare or export runs one of the two
#   --only web    only the dashboard load bench (10,000 jobs, 100 clients); BENCH_WEB_SECONDS sets its length (default 30)
#   --only sync   only the sync-mode bench: throughput against the emulator with zero latency (BENCH_SYNC_ITEMS requests,
#                 default 50000, BENCH_SYNC_CONCURRENCY in flight, default 16 as in the CLI), in the bench's process and
#                 then as a standalone 'batchpilot emulator'; and 3,000 RPM / 300,000 TPM for BENCH_SYNC_SECONDS
#                 (default 60): achieved rate as a fraction of each limit, and the 429s
set -euo pipefail
cd "$(dirname "$0")/.."
only=""
if [[ "${1:-}" == "--only" ]]; then
    only="${2:-}"
    shift 2 || { echo "usage: bench/run.sh [--only csv|io|web|sync] [rows...]" >&2; exit 2; }
    if [[ "$only" != "csv" && "$only" != "io" && "$only" != "web" && "$only" != "sync" ]]; then
        echo "usage: bench/run.sh [--only csv|io|web|sync] [rows...]" >&2
        exit 2
    fi
fi

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(dotnet --version), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "$only" == "" || "$only" == "csv" ]]; then
    dotnet build src/BatchPilot.Cli -c Release -o bench/out/cli -v quiet -nologo >/dev/null
    dotnet build bench/BatchPilot.Bench -c Release -o bench/out/bench -v quiet -nologo >/dev/null
    dotnet bench/out/bench/BatchPilot.Bench.dll "$PWD/bench/out/cli/batchpilot.dll" "$@"
fi

if [[ "$only" == "" || "$only" == "io" ]]; then
    dotnet build bench/BatchPilot.IO.Bench -c Release -o bench/out/io -v quiet -nologo >/dev/null
    dotnet bench/out/io/BatchPilot.IO.Bench.dll "$@"
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

if [[ "$only" == "" || "$only" == "web" ]]; then
    dotnet build bench/BatchPilot.Web.Bench -c Release -o bench/out/web -v quiet -nologo >/dev/null
    dotnet bench/out/web/BatchPilot.Web.Bench.dll "${BENCH_WEB_SECONDS:-30}"
fi

if [[ "$only" == "" || "$only" == "sync" ]]; then
    dotnet build src/BatchPilot.Cli -c Release -o bench/out/cli -v quiet -nologo >/dev/null
    dotnet build bench/BatchPilot.Sync.Bench -c Release -o bench/out/sync -v quiet -nologo >/dev/null
    items="${BENCH_SYNC_ITEMS:-50000}"
    concurrency="${BENCH_SYNC_CONCURRENCY:-16}"
    # 1. The emulator in the bench's own process: throughput, then the rate-limited run.
    dotnet bench/out/sync/BatchPilot.Sync.Bench.dll "$items" "${BENCH_SYNC_SECONDS:-60}" "$concurrency"
    # 2. Throughput against a standalone 'batchpilot emulator' process, whose CPU time is read from /proc.
    log="$(mktemp)"
    dotnet bench/out/cli/batchpilot.dll emulator --urls http://127.0.0.1:0 >"$log" 2>&1 &
    emulator=$!
    trap 'kill "$emulator" 2>/dev/null || true; rm -f "$log"' EXIT
    url=""
    for _ in $(seq 1 100); do
        url="$(sed -n 's/^BatchPilot emulator listening on \(http[^ ]*\).*/\1/p' "$log")"
        [[ -n "$url" ]] && break
        sleep 0.2
    done
    if [[ -z "$url" ]]; then
        echo "the standalone emulator did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    before="$(awk '{print $14 + $15}' "/proc/$emulator/stat")"
    BENCH_SYNC_EMULATOR_URL="$url" dotnet bench/out/sync/BatchPilot.Sync.Bench.dll "$items" 0 "$concurrency"
    after="$(awk '{print $14 + $15}' "/proc/$emulator/stat")"
    ticks="$(getconf CLK_TCK)"
    # The bench sends a 2,000-request warm-up before the timed run.
    echo "sync-standalone-emulator cpu_us_per_request=$(( (after - before) * 1000000 / ticks / (items + 2000) ))"
    kill "$emulator" 2>/dev/null || true
    echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
