#!/usr/bin/env bash
# The committed copies of shared/ data (Tests/OmniZipTestSupport/Fixtures: the small golden cases,
# so `swift test` runs without shared/) must equal shared/ byte for byte. Tests read shared/ first
# when it is there, so a stale copy would otherwise only show on a machine without it.
# Fails naming each file that differs or that shared/ no longer has. Without shared/ it says so
# and passes, except under CI, which always has it.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=Tests/OmniZipTestSupport/Fixtures
shared=${OMNIZIP_SHARED_DIR:-../shared}
if [[ ! -d "$shared/golden" ]]; then
    echo "check-fixtures: no shared/ at $shared (set OMNIZIP_SHARED_DIR): committed copies not compared" >&2
    [[ -z "${CI:-}" ]] || { echo "check-fixtures: CI must have shared/" >&2; exit 1; }
    exit 0
fi
bad=0 count=0
while IFS= read -r -d '' file; do
    rel=${file#"$fixtures"/}
    count=$((count + 1))
    if [[ ! -f "$shared/$rel" ]]; then
        echo "check-fixtures: $file has no counterpart $shared/$rel (remove it)" >&2; bad=1
    elif ! cmp -s "$file" "$shared/$rel"; then
        echo "check-fixtures: $file differs from $shared/$rel (cp $shared/$rel $file)" >&2; bad=1
    fi
done < <(find "$fixtures" -type f -print0 | sort -z)
[[ $bad -eq 0 ]] || exit 1
echo "check-fixtures: $count committed copies equal $shared byte for byte"
