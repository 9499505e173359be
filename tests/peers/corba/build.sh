#!/usr/bin/env bash
# Builds the omniORB 4.2 C++ Hello peers from the course's hello.idl into OUTDIR (default
# target/corba-peers): OUTDIR/hello_server and OUTDIR/hello_client.
# Needs Debian's omniidl, libomniorb4-dev and g++ (.ci/run installs them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../../target/corba-peers}"
mkdir -p "$out"
cd "$out"
if [ hello_server -nt "$here/server.cc" ] && [ hello_client -nt "$here/client.cc" ] && [ hello_server -nt "$here/hello.idl" ]; then
  exit 0
fi
omniidl -bcxx "$here/hello.idl"
# CosNaming's stubs are part of libomniORB4 (Debian has no separate libCOS4).
libs="$(pkg-config --libs omniORB4 omnithread4 2>/dev/null || echo -lomniORB4 -lomnithread -lpthread)"
g++ -O2 -I. -o hello_server "$here/server.cc" helloSK.cc $libs
g++ -O2 -I. -o hello_client "$here/client.cc" helloSK.cc $libs
echo "built $out/hello_server and $out/hello_client"
