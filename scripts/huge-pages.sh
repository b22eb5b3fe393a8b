#!/usr/bin/env bash
# At least N huge pages of the default size free, for the huge-page memfd tests and benchmarks:
# as root, raises vm.nr_hugepages by the shortfall (the host's setting: it stays raised, and
# says how to undo it); otherwise says what is free and leaves it. Never fails: the tests
# themselves skip without huge pages, or fail under OMNIZIP_REQUIRE_HUGE_PAGES=1.
#
#   scripts/huge-pages.sh [N]     (default 64: 128 MiB of 2 MiB pages)
set -uo pipefail
want=${1:-64}
free() { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }
have=$(free)
[ -n "$have" ] || { echo "huge-pages: this kernel has no huge pages"; exit 0; }
if [ "$have" -ge "$want" ]; then echo "huge-pages: $have free"; exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
    echo "huge-pages: $have free of the $want wanted; as root: sysctl vm.nr_hugepages=\$(( \$(cat /proc/sys/vm/nr_hugepages) + $((want - have)) ))"
    exit 0
fi
before=$(cat /proc/sys/vm/nr_hugepages)
echo $((before + want - have)) > /proc/sys/vm/nr_hugepages
echo "huge-pages: vm.nr_hugepages $before -> $(cat /proc/sys/vm/nr_hugepages), $(free) free (undo: sysctl vm.nr_hugepages=$before)"
