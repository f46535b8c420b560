#!/usr/bin/env bash
# Installs what vfio-uapi needs on a Debian 12 machine (as root), then the npm dependencies.
# clang-14/19 cross-compile the headers for every ABI (the conformance oracle);
# qemu-system-x86 and busybox-static boot Debian kernels for the live suite; gcc, make, binutils, flex, bison,
# bc, perl, libelf-dev and libssl-dev build the custom kernel (conformance/vm/custom.ts) from Debian's linux-source;
# qemu-system-ppc, -misc (s390x) and -arm boot the ppc64le, s390x and aarch64 guests, and gcc-powerpc64le-linux-gnu /
# gcc-s390x-linux-gnu build the runtime's Node-API system-call addon for the guests koffi has no build for (ppc64le, s390x).
# glibc's cross headers for four ABIs check the built-in libc model against clang (test/libc-model.test.ts;
# `npm run sweep` uses every ABI's libc6-dev-<arch>-cross that is installed: see generator/abi/abis.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(clang-14 clang-19 qemu-system-x86 busybox-static xz-utils zstd cpio ca-certificates
  gcc make binutils flex bison bc perl libelf-dev libssl-dev
  qemu-system-ppc qemu-system-misc qemu-system-arm gcc-powerpc64le-linux-gnu gcc-s390x-linux-gnu
  libc6-dev-amd64-cross libc6-dev-i386-cross libc6-dev-ppc64-cross libc6-dev-s390x-cross)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: npm ci" >&2
npm ci --no-audit --no-fund --loglevel=error
