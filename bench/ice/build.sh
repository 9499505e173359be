#!/usr/bin/env bash
# Builds the ZeroC Ice C++ Printer server of the benchmark into bench/ice/target/server.
# Needs Debian's zeroc-ice-compilers (slice2cpp), libzeroc-ice-dev (libIce++11) and g++.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p target
slice2cpp --output-dir target Printer.ice
g++ -std=c++11 -O2 -DICE_CPP11_MAPPING -Itarget -o target/server server.cpp target/Printer.cpp -lIce++11 -pthread
echo "built bench/ice/target/server"
