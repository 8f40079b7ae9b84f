#!/usr/bin/env bash
# Runs Google's packetdrill suite (gtests/net/tcp, its IPv4 scripts),
# unchanged, with `tcpsim script --profile linux`, and prints each verdict,
# a histogram of the first failure reasons and the count.
#
# Usage: scripts/packetdrill-suite.sh SUITE_DIR [tcpsim script options...]
#
# SUITE_DIR is packetdrill's gtests/net/tcp, fetched by you (it is never
# part of this repository):
#     git clone https://github.com/google/packetdrill
#     scripts/packetdrill-suite.sh packetdrill/gtests/net/tcp
# The scripts source SUITE_DIR/common/defaults.sh themselves (relative to
# their own directory), as on Linux. TCPSIM names the tcpsim binary
# (default: target/release/tcpsim, brought up to date first).
# Exit status: 0 all passed, 1 some failed, 2 usage (no such directory).
set -euo pipefail

suite=${1:-}
if [ -z "$suite" ]; then
    echo "usage: $0 SUITE_DIR [tcpsim script options...]  (SUITE_DIR: packetdrill's gtests/net/tcp)" >&2
    exit 2
fi
if [ ! -d "$suite" ]; then
    echo "$0: $suite: no such directory; fetch the suite first:" >&2
    echo "    git clone https://github.com/google/packetdrill && $0 packetdrill/gtests/net/tcp" >&2
    exit 2
fi
if [ ! -f "$suite/common/defaults.sh" ]; then
    echo "$0: $suite has no common/defaults.sh: give packetdrill's gtests/net/tcp directory" >&2
    exit 2
fi
shift

root=$(cd "$(dirname "$0")/.." && pwd)
tcpsim=${TCPSIM:-$root/target/release/tcpsim}
if [ -z "${TCPSIM:-}" ]; then
    (cd "$root" && cargo build --release -q -p scenarios --bin tcpsim)
fi

# The IPv4 scripts: the suite's IPv6 variants are named *-v6.pkt / *ipv6*.pkt.
mapfile -t files < <(find "$suite" -name '*.pkt' ! -name '*-v6.pkt' ! -name '*ipv6*.pkt' | sort)
if [ ${#files[@]} -eq 0 ]; then
    echo "$0: no .pkt files under $suite" >&2
    exit 2
fi

out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
status=0
# The definitions packetdrill's run_all.py gives its IPv4 runs (the
# addresses it passes, 192.168.0.1 and 192.0.2.1, are tcpsim's defaults).
defines=(-D TFO_COOKIE=3021b9d889017eeb -D CODE=host_unreachable
         -D CMSG_LEVEL_IP=SOL_IP -D CMSG_TYPE_RECVERR=IP_RECVERR)
"$tcpsim" script --profile linux "${defines[@]}" "$@" "${files[@]}" >"$out" 2>"$err" || status=$?
if [ "$status" -ge 2 ]; then
    cat "$err" >&2
    echo "$0: tcpsim script failed with exit status $status" >&2
    exit "$status"
fi
grep -E '^(pass|FAIL) ' "$out"
echo
echo "first failure reasons (numbers as N):"
grep '^FAIL ' "$out" \
    | sed -E 's/^FAIL [^ ]+\.pkt(:[0-9]+)*: //' \
    | sed -E 's/[0-9]+/N/g' \
    | cut -c1-100 \
    | sort | uniq -c | sort -rn
echo
passed=$(grep -c '^pass ' "$out" || true)
echo "packetdrill gtests (IPv4): $passed of ${#files[@]} pass on tcpsim"
exit "$status"
