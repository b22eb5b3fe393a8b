#!/usr/bin/env bash
# The C kernels stay portable: built for x86-64 and for aarch64-linux-gnu (Debian's cross
# compiler), Tests/KernelPortability/kernel_check.c checks each kernel against its contract and
# hashes every output bit; the x86-64 scalar path, the x86-64 best path and the aarch64 build
# (run under qemu-user) must print the same hash. Installs the cross compiler and qemu-user when
# missing (root).
set -euo pipefail
cd "$(dirname "$0")/.."
packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
missing=$(for p in $packages; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
if [[ -n "$missing" ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "check-portability: needs $missing (apt-get install as root)" >&2; exit 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sources=(Sources/COmniZipKernels/*.c Tests/KernelPortability/kernel_check.c)
flags=(-std=c11 -O2 -ffp-contract=off -Wall -Wextra -Werror -Wno-unknown-pragmas -ISources/COmniZipKernels/include -ISources/COmniZipKernels)
cc "${flags[@]}" "${sources[@]}" -o "$work/x86_64" -lm
aarch64-linux-gnu-gcc "${flags[@]}" -static "${sources[@]}" -o "$work/aarch64" -lm

scalar=$(OMNIZIP_ISA=scalar "$work/x86_64")
best=$("$work/x86_64")
arm=$(qemu-aarch64 "$work/aarch64")
printf 'check-portability: x86-64 %s, x86-64 %s, aarch64 (qemu) %s\n' "$scalar" "$best" "$arm"
[[ ${scalar#* } == "${best#* }" && ${best#* } == "${arm#* }" ]] || { echo "check-portability: the paths disagree" >&2; exit 1; }
echo "check-portability: every kernel gives the same bits on all three"
