#!/usr/bin/env bash
# setup: make a fresh machine able to run ijepa-webgpu. Idempotent: seconds when all is present.
#   - npm packages (npm ci) when node_modules is missing or older than the lockfile
#   - Vulkan loader + Mesa ≥ 24 (lavapipe, the CPU Vulkan driver Dawn runs on without a GPU);
#     on Debian bookworm Mesa 24+ comes from bookworm-backports (bookworm's own 22.3 fails with
#     "shaderUniform*ArrayDynamicIndexing required")
#   - Debian's Fashion-MNIST (the default training data) and, with --dev, python3-torch and
#     python3-numpy (to regenerate the PyTorch golden files and for the interop export check),
#     OpenBLAS (the CPU ceiling in benchmarks)
#   - Chromium (the browser half of the tests, the browser demo, report screenshots)
#   - with --test, what the tests that compare against Python need, so that none of them is
#     skipped (test/skips.ts; .ci/run uses it and fails on any skip): python3-pil (resize vs
#     PIL), python3-numpy (numpy reads our safetensors), python3-torch (torch.load of an export),
#     python3-yaml (PyYAML reads the exported official config)
# Then it checks that a WebGPU adapter appears.
# Usage: bash scripts/setup.sh [--quiet] [--dev] [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
QUIET=0; DEV=0; TEST=0
for a in "$@"; do case "$a" in --quiet) QUIET=1 ;; --dev) DEV=1 ;; --test) TEST=1 ;; *) echo "setup: unknown option $a" >&2; exit 2 ;; esac; done
say() { [ "$QUIET" = 1 ] || echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

# ---- npm packages ---------------------------------------------------------------------------
# A node_modules that is a symlink belongs to another checkout (a git worktree sharing it): npm ci
# would empty that checkout's folder through the link, so it is left alone.
if [ ! -L node_modules ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# ---- system packages ------------------------------------------------------------------------
mesa_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 24 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}
need_pkgs=()
mesa_ok || need_pkgs+=(mesa)
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || [ -n "${IJEPA_FASHION_MNIST_DIR:-}" ] || need_pkgs+=(dataset-fashion-mnist)
if [ "$DEV" = 1 ]; then
  /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || need_pkgs+=(python3-torch python3-numpy)
  dpkg-query -W libopenblas0-pthread >/dev/null 2>&1 || need_pkgs+=(libopenblas0-pthread)
fi
if [ "$TEST" = 1 ]; then
  py_has() { /usr/bin/python3 -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('$1') else 1)" 2>/dev/null; }
  py_has PIL || need_pkgs+=(python3-pil)
  py_has numpy || need_pkgs+=(python3-numpy)
  py_has torch || need_pkgs+=(python3-torch)
  py_has yaml || need_pkgs+=(python3-yaml)
fi
# the browser half of the test suite (test/browser/run.ts) runs in Debian's Chromium
[ -x "${IJEPA_CHROMIUM:-/usr/bin/chromium}" ] || need_pkgs+=(chromium)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(uname -s)" = Linux ] || die "system packages missing (${need_pkgs[*]}) and this is not Linux: install a WebGPU-capable driver by hand (on macOS/Windows Dawn uses Metal/D3D12 and needs nothing)"
  command -v apt-get >/dev/null || die "need ${need_pkgs[*]} but there is no apt-get: install Mesa >= 24 (Vulkan lavapipe) and libvulkan1 with your package manager"
  [ "$(id -u)" = 0 ] || die "need ${need_pkgs[*]}: run this script as root (or with sudo) so it can apt-get install them"
  . /etc/os-release
  export DEBIAN_FRONTEND=noninteractive
  if [[ " ${need_pkgs[*]} " == *" mesa "* ]] && [ "${VERSION_CODENAME:-}" = bookworm ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "enabling bookworm-backports for Mesa >= 24"
    echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  say "apt-get update"
  apt-get update -qq >/dev/null
  pkgs=()
  for p in "${need_pkgs[@]}"; do [ "$p" = mesa ] || pkgs+=("$p"); done
  if [[ " ${need_pkgs[*]} " == *" mesa "* ]]; then
    say "installing libvulkan1 and mesa-vulkan-drivers"
    if [ "${VERSION_CODENAME:-}" = bookworm ]; then
      apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
    else
      apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
    mesa_ok || die "mesa-vulkan-drivers is still older than 24 ($(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)); Dawn needs Mesa >= 24"
  fi
  if [ ${#pkgs[@]} -gt 0 ]; then
    say "installing ${pkgs[*]}"
    apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
fi

# ---- adapter check --------------------------------------------------------------------------
if ! out=$(node --import tsx -e "
const { initWebGPU, deviceInfo } = await import('./engine/device/node.ts');
await initWebGPU();
const i = deviceInfo();
console.log('setup: WebGPU adapter:', i.adapter.description || i.adapter.vendor || 'unnamed');
process.exit(0);
" 2>&1); then
  echo "$out" >&2
  die "no WebGPU adapter appeared (see the error above)"
fi
say "$(echo "$out" | grep 'WebGPU adapter' | sed 's/^setup: //')"
