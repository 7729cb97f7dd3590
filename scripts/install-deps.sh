#!/usr/bin/env bash
# Installs everything needed to build and test omnicache on Debian 12 / Ubuntu 22.04+.
# Runs apt-get through sudo when not root. Safe to run again.
#
#   scripts/install-deps.sh          what the build and the tests need (CI)
#   scripts/install-deps.sh --bench  also what bench/compare.sh and profiling need
set -euo pipefail
start=$SECONDS

packages=(
  build-essential cmake ninja-build pkg-config git
  ccache  # used by the build when present; CCACHE_DISABLE=1 measures a cold build
  libboost-dev libboost-system-dev
  libsqlite3-dev libzstd-dev libssl-dev libhiredis-dev
  libcli11-dev libfmt-dev libtomlplusplus-dev nlohmann-json3-dev doctest-dev libhnswlib-dev
  python3 curl
  redis-server  # the shared tier's tests run a real Redis
  scdoc  # the man pages are built from man/*.scd
  systemd  # systemd-socket-activate: the socket-activation tests
  zsh fish  # the completion tests load the scripts in each shell
  jq shellcheck  # examples/ use jq; their test runs shellcheck
  groff-base  # the man page test renders each page
  clang libclang-rt-14-dev  # libFuzzer targets (fuzz/)
)
# The proxy's tests drive it with the official openai and @anthropic-ai/sdk
# packages (installed from npm by the tests). A Node.js already on the machine
# (18 or later) is used as it is; Debian's comes with npm otherwise.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
if [[ ${1:-} == --bench ]]; then
  packages+=(redis-tools hyperfine linux-perf valgrind)
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
# Under .ci/run, which sets OMNICACHE_STAGE_LOG, this step's time joins the stages' summary.
if [[ -n ${OMNICACHE_STAGE_LOG:-} ]]; then
  printf 'deps\tinstall\t%d\t0\n' $((SECONDS - start)) >>"$OMNICACHE_STAGE_LOG"
fi
