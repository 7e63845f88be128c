#!/usr/bin/env bash
# Makes the toolchain that rust-toolchain.toml pins available under its name, without a download.
#
# rustup reads rust-toolchain.toml and would try to download a toolchain it does not have by
# that name. The machines this project runs on come with one toolchain installed by rustup
# (usually as `stable`) and cannot download another; when one of the installed toolchains is the
# pinned release, it is registered under the pinned name as well (a symlink in rustup's
# toolchains folder, as `rustup toolchain link` would make if it accepted a release name).
# Otherwise this says so and fails: install the pinned release with rustup.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
if [ -z "$pinned" ]; then
  echo "rust-toolchain.sh: no channel in rust-toolchain.toml" >&2
  exit 1
fi
if ! command -v rustup >/dev/null; then
  # No rustup: whatever cargo is on PATH is used as is (and the trybuild test checks it).
  exit 0
fi
# Outside the workspace, so that rust-toolchain.toml does not pick the toolchain being looked for.
cd /
if rustup run "$pinned" rustc --version >/dev/null 2>&1; then
  exit 0
fi
home="$(rustup show home)"
while read -r toolchain _; do
  [ -n "$toolchain" ] || continue
  if rustup run "$toolchain" rustc --version 2>/dev/null | grep -q "^rustc $pinned "; then
    host="$(rustup run "$toolchain" rustc -vV | sed -n 's/^host: //p')"
    sysroot="$(rustup run "$toolchain" rustc --print sysroot)"
    ln -sfn "$sysroot" "$home/toolchains/$pinned-$host"
    echo "rust-toolchain.sh: using the installed toolchain $toolchain as $pinned-$host"
    rustup run "$pinned" rustc --version >/dev/null
    exit 0
  fi
done < <(rustup toolchain list)
echo "rust-toolchain.sh: rust-toolchain.toml pins Rust $pinned, which is not installed" \
  "(rustup toolchain install $pinned --component rustfmt,clippy)" >&2
exit 1
