// A real webhook receiver on 127.0.0.1 for notification tests: it records every request
// (headers and body), and answers as the test says at that moment: 200, another status, or
// not at all (a receiver that hangs, until it is closed).
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the receiver answered; 'hang' for a request it never answered. */
  answered: number | 'hang';
}

/** A status (answered with a short body), a status and the body to answer, or 'hang'. */
export type Answer = number | 'hang' | { status: number; body: string };

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** Decides the answer to each request; default 200. */
  answer: (r: Omit<Received, 'answered'>) => Answer = () => 200;
  private readonly hung: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const r = new WebhookReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const got = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const answer = r.answer(got);
        if (answer === 'hang') {
          r.received.push({ ...got, answered: 'hang' });
          r.hung.push(res);
          return;
        }
        const { status, body } = typeof answer === 'number' ? { status: answer, body: answer === 200 ? 'ok' : 'no' } : answer;
        r.received.push({ ...got, answered: status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
      });
    });
    return r;
  }

  /** Requests to `path` the receiver answered 2xx: what counts as delivered. */
  accepted(path: string): Received[] {
    return this.received.filter((x) => x.path === path && typeof x.answered === 'number' && x.answered >= 200 && x.answered < 300);
  }

  /** Waits until `check` holds for what was received (polls; fails after timeoutMs with what came). */
  async waitFor(what: string, check: (r: WebhookReceiver) => boolean, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) {
        throw new Error(`the webhook receiver did not get ${what} within ${timeoutMs} ms; it got:\n${this.received.map((x) => `${x.path} ${String(x.answered)} ${x.body}`).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => undefined);
  }
}
