#!/usr/bin/env bash
# Prints the benchmark figures. Usage: bench/run.sh [rows...]   (default: 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/BatchPilot.Cli -c Release -o bench/out/cli -v quiet -nologo >/dev/null
dotnet build bench/BatchPilot.Bench -c Release -o bench/out/bench -v quiet -nologo >/dev/null
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(dotnet --version)"
dotnet bench/out/bench/BatchPilot.Bench.dll "$PWD/bench/out/cli/batchpilot.dll" "$@"
