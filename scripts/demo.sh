#!/usr/bin/env bash
# `npm run demo` (which builds berth first): the whole story of an update, told on this
# machine: 1.0.0 runs, 1.1.0 applies by itself, 2.0.0 waits for your approval in the
# console, 2.1.0 is broken and rolled back by itself. See src/demo/main.ts.
#   DEMO_NONINTERACTIVE=1     go on after DEMO_PAUSE_SECONDS (default 5) instead of waiting for Enter
#   DEMO_DIR=PATH             the demo's folder (default $XDG_STATE_HOME/berth/demo, i.e. ~/.local/state/berth/demo)
#   DEMO_HTTP=ADDR            where berth serves its console (default 127.0.0.1:8420)
#   DEMO_SHOP_PORT=PORT       where the demo shop is published on 127.0.0.1 (default 8088)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v docker >/dev/null || { echo "demo: no docker CLI; run (as root): bash scripts/setup-engine.sh" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "demo: the Docker engine does not answer; run (as root): bash scripts/setup-engine.sh" >&2; exit 1; }
docker compose version >/dev/null 2>&1 || { echo "demo: no compose v2 plugin; run (as root): bash scripts/setup-engine.sh" >&2; exit 1; }
[ -f dist/src/demo/main.js ] || { echo "demo: berth is not built; run: npm run demo (it builds first), or npm run build" >&2; exit 1; }
exec node dist/src/demo/main.js
