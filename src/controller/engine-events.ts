// Which engine events wake berth. A container's health check runs as an exec, and each run
// sends exec_create, exec_start and exec_die events: with health checks every few seconds,
// most of the event stream. berth drops those, but it used to receive and parse each one
// first; on a host where 50 services check their health, that was most of an idle berth's
// CPU (bench idle, issue 10 item 6). The engine now sends only the actions below: every
// container action that says something about its life (IGNORED_ACTIONS in operator.ts,
// still applied, lists the others). The engine matches them exactly, except health_status,
// which it matches by prefix ("health_status: healthy"): engine events filters (#25798).
import { LABEL_PROJECT } from '../plan/types.js';

export const WATCHED_ACTIONS = [
  'create',
  'start',
  'restart',
  'stop',
  'kill',
  'die',
  'oom',
  'pause',
  'unpause',
  'update',
  'rename',
  'destroy',
  'detach',
  'health_status',
] as const;

/** The engine-side filter of berth's event stream: compose projects' containers, life events only. */
export function engineEventFilters(): Record<string, string[]> {
  return { type: ['container'], label: [LABEL_PROJECT], event: [...WATCHED_ACTIONS] };
}
