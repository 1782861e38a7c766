// Before the demo starts berth and the shop: are their addresses free? A new user often has
// something on 8420 or 8088 already. Without this check berth stopped with its own advice
// (`--http`, a flag the demo does not take), or compose could not publish the shop and the
// demo waited minutes for a version that could not start.
import { createServer } from 'node:net';

export interface PortCheck {
  /** What listens there in the demo: "the console", "the shop". */
  what: string;
  host: string;
  port: number;
  /** The variable that moves it: DEMO_HTTP, DEMO_SHOP_PORT. */
  knob: string;
  /** How to set the variable to another free port, for the message. */
  example: string;
}

/** Resolves true when host:port can be bound now (it is closed again at once). */
export function isFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** One line per address that is taken, saying which variable moves it; empty when all are free. */
export async function takenAddresses(checks: readonly PortCheck[]): Promise<string[]> {
  const lines: string[] = [];
  for (const c of checks) {
    if (!(await isFree(c.host, c.port))) {
      lines.push(`${c.host}:${c.port} (${c.what}) is taken by another program; choose another port: ${c.knob}=${c.example} npm run demo`);
    }
  }
  return lines;
}
