#!/usr/bin/env bash
# Generate SST's platform types (.sst/platform) without an AWS account, GitHub, or a Pulumi
# download, so `tsc -p tsconfig.infra.json` can type-check sst.config.ts and stacks/.
# Needs only what `npm ci` installed plus the npm registry (SST fetches its provider packages
# from it on the first run). Idempotent: when nothing that matters changed, it returns at once.
# Why and how: docs/SST-OFFLINE.md.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
  printf 'sst-types: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

[[ -f sst.config.ts ]] || fail "no sst.config.ts in $PWD"
[[ -f node_modules/sst/package.json && -x node_modules/.bin/sst ]] ||
  fail "the sst CLI is not installed" "run 'npm ci' (sst is a devDependency)"
[[ -f node_modules/bun/package.json ]] ||
  fail "the bun package is not installed" "run 'npm ci' (bun is a devDependency; SST runs it to install its providers)"
# SST keeps state under os.UserConfigDir(): $XDG_CONFIG_HOME, else $HOME/.config.
[[ -n "${XDG_CONFIG_HOME:-}" || -n "${HOME:-}" ]] || fail "neither HOME nor XDG_CONFIG_HOME is set; the SST CLI needs one"

versions=$(node -e 'const v = (p) => require(`./node_modules/${p}/package.json`).version; console.log(v("sst"), v("bun"))') ||
  fail "could not read the sst and bun versions from node_modules (is node on PATH?)"
read -r sst_version bun_version <<<"$versions"

# What the generated tree depends on: the CLI, the bun that installs, and the app config
# (its `providers` and `home` decide which provider packages SST installs).
stamp_file=.sst/sst-types.stamp
stamp="sst=$sst_version bun=$bun_version config=$(cksum <sst.config.ts | cut -d' ' -f1)"

up_to_date() {
  [[ -f .sst/platform/config.d.ts && -f .sst/platform/version && -d .sst/platform/node_modules && -f "$stamp_file" ]] &&
    [[ "$(<.sst/platform/version)" == "$sst_version" && "$(<"$stamp_file")" == "$stamp" ]]
}

if up_to_date; then
  exit 0
fi

mkdir -p .sst
# One generator at a time (two `npm run` in parallel would otherwise race on .sst/platform).
if command -v flock >/dev/null 2>&1; then
  exec 9>.sst/sst-types.lock
  flock 9
  if up_to_date; then exit 0; fi
fi

# The bun SST should run. npm's `bun` package moves the platform binary into bin/bun.exe in
# its postinstall; if install scripts were skipped, bun.exe is an empty placeholder and the
# binary is still inside the @oven/bun-<platform> package. Take the first one that runs and
# reports the expected version.
bun=""
for candidate in node_modules/bun/bin/bun.exe node_modules/@oven/bun-*/bin/bun; do
  [[ -f "$candidate" && -s "$candidate" && -x "$candidate" ]] || continue
  if [[ "$("$candidate" --version 2>/dev/null || true)" == "$bun_version" ]]; then
    bun="$PWD/$candidate"
    break
  fi
done
[[ -n "$bun" ]] || fail "no working bun $bun_version binary in node_modules" \
  "looked at node_modules/bun/bin/bun.exe and node_modules/@oven/bun-*/bin/bun" \
  "reinstall with install scripts allowed: npm ci (package.json allowScripts has \"bun\": true)"

timeout=()
if command -v timeout >/dev/null 2>&1; then timeout=(timeout 600); fi
log=.sst/sst-install.log
started=$SECONDS
echo "sst-types: generating .sst/platform (sst $sst_version, bun $bun_version from ${bun#"$PWD"/})" >&2
# SST_BUN_PATH: run this bun instead of downloading one into ~/.config/sst/bin (nothing is
#   written there, so a bun already installed by SST is left alone).
# SST_SKIP_DEPENDENCY_CHECK: don't download Pulumi; `sst install` doesn't run it.
# SST_STAGE: `sst install` refuses to run without a stage; any name will do, nothing is deployed.
if ! SST_BUN_PATH="$bun" \
  SST_SKIP_DEPENDENCY_CHECK=true \
  SST_TELEMETRY_DISABLED=true \
  SST_STAGE="${SST_STAGE:-typecheck}" \
  ${timeout[@]+"${timeout[@]}"} node_modules/.bin/sst install --print-logs >"$log" 2>&1; then
  tail -n 25 "$log" >&2
  fail "'sst install' failed; its last lines are above (full log: $log)" \
    "if sst.config.ts failed to evaluate (e.g. an invalid app() value), fix it and rerun" \
    "otherwise: a cold run fetches SST's platform and provider packages from the npm registry" \
    "(registry.npmjs.org; no AWS, no GitHub), so check that it is reachable"
fi
[[ -f .sst/platform/config.d.ts ]] ||
  fail "'sst install' succeeded but wrote no .sst/platform/config.d.ts (full log: $log)"

printf '%s\n' "$stamp" >"$stamp_file"
echo "sst-types: done in $((SECONDS - started))s" >&2
