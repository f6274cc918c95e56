#!/usr/bin/env bash
# run.sh - the dashboard in a real browser: playwright-core (pinned in
# package.json, from npm) drives Debian's Chromium headless against munshi
# started on a fresh database. No browser is ever downloaded: playwright-core
# has no download step, and the tests launch the system's /usr/bin/chromium
# (MUNSHI_CHROMIUM to use another).
#
#   tests/browser/run.sh <path-to-munshi> sqlite [screenshot dir]
#   MUNSHI_TEST_PG_URL=postgres://... tests/browser/run.sh <path-to-munshi> postgres [dir]
#
# The server is started, fed and stopped exactly as for the API suite:
# tests/api/run.sh does it (fresh database, random JWT secret, loopback port,
# the WhatsApp and Telegram fakes' ports, a clean stop on SIGTERM), here told
# to run this directory's *.test.mjs instead of its own. Screenshots of every
# screen at phone (390x844) and desktop (1280x800) size go to the directory
# given (default: test-output/screenshots/<backend> under the cwd), never
# into the source tree.
set -uo pipefail

usage() { echo "usage: $0 <path-to-munshi-binary> <sqlite|postgres> [screenshot dir]" >&2; exit 2; }
[ $# -eq 2 ] || [ $# -eq 3 ] || usage
case "$2" in sqlite | postgres) ;; *) usage ;; esac
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "browser/run.sh[$2]: $*" >&2; }

chromium=${MUNSHI_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "browser/run.sh: FAIL: $chromium is not there (apt-get install chromium; make deps-test does it)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "browser/run.sh: node is not installed" >&2; exit 1; }
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  echo "browser/run.sh: installing playwright-core (npm ci)" >&2
  (cd "$here" && npm ci --no-audit --no-fund) >&2 || { echo "browser/run.sh: npm ci failed" >&2; exit 1; }
fi

shots=${3:-$PWD/test-output/screenshots/$2}
mkdir -p "$shots" || exit 1
export MUNSHI_SCREENSHOTS=$(cd "$shots" && pwd) MUNSHI_CHROMIUM=$chromium
# Relative to tests/api, where run.sh runs node.
export MUNSHI_API_TESTS=${MUNSHI_BROWSER_TESTS:-../browser/*.test.mjs}
exec "$here/../api/run.sh" "$1" "$2"
