// A real Prometheus (Debian's `prometheus` package) for tests: started on a free loopback
// port with a throwaway storage folder, scraping the targets the test names every second,
// queried through its HTTP API, and killed after. Nothing here touches a system service.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';

const execFileAsync = promisify(execFile);

const HOW_TO_GET_PROMETHEUS =
  "install Debian's prometheus package: run `sudo bash scripts/setup-engine.sh` (its scripts/setup.d/30-prometheus.sh installs it without starting a service), or `apt-get install --no-install-recommends prometheus`";

/** Resolves with prometheus' version line; throws saying how to install it when it is missing. */
export async function requirePrometheus(): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync('prometheus', ['--version'], { timeout: 20_000 });
    return (stdout || stderr).split('\n')[0] ?? '';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'prometheus is not on PATH' : `prometheus --version failed: ${(err as Error).message}`;
    throw new Error(`${why}; this test needs a real Prometheus: ${HOW_TO_GET_PROMETHEUS}`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Prometheus processes this test file started that have not exited. */
const running = new Set<ChildProcess>();
// A test file that ends without stop() must not leave a prometheus running on this machine.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One series of an instant query's answer. */
export interface QuerySample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusOptions {
  /** Folder for its config, storage and log (created). */
  dir: string;
  /** `HOST:PORT` targets scraped every second under job="berth". */
  targets: string[];
}

export class Prometheus {
  private exited = false;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly logFile: string,
  ) {
    running.add(child);
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exit.then(() => {
      this.exited = true;
      running.delete(child);
    });
  }

  /** Starts prometheus and waits until it answers /-/ready. */
  static async start(opts: PrometheusOptions): Promise<Prometheus> {
    await mkdir(opts.dir, { recursive: true });
    const config = join(opts.dir, 'prometheus.yml');
    await writeFile(
      config,
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        scrape_configs: [{ job_name: 'berth', metrics_path: '/metrics', static_configs: [{ targets: opts.targets }] }],
      }),
    );
    const logFile = join(opts.dir, 'prometheus.log');
    // The port is free when picked; should another process take it before prometheus binds, it exits and is started again.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const fd = openSync(logFile, 'a');
      let child: ChildProcess;
      try {
        child = spawn(
          'prometheus',
          [
            `--config.file=${config}`,
            `--storage.tsdb.path=${join(opts.dir, 'data')}`,
            `--web.listen-address=127.0.0.1:${port}`,
            '--storage.tsdb.retention.time=1h',
            '--log.level=warn',
          ],
          { stdio: ['ignore', fd, fd] },
        );
      } finally {
        closeSync(fd);
      }
      child.once('error', () => undefined);
      const p = new Prometheus(child, `http://127.0.0.1:${port}`, logFile);
      if (await p.becameReady()) return p;
      await p.stop();
      if (attempt >= 3) throw new Error(`prometheus did not become ready on 127.0.0.1:${port}; its log (${logFile}):\n${await p.logTail()}`);
    }
  }

  private async becameReady(): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !this.exited) {
      const ok = await fetch(`${this.url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return true;
      await sleep(200);
    }
    return false;
  }

  async logTail(): Promise<string> {
    return (await readFile(this.logFile, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-20).join('\n');
  }

  /** An instant query through /api/v1/query; vector answers only. */
  async query(promql: string): Promise<QuerySample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success' || body.data === undefined) throw new Error(`prometheus refused the query ${promql}: ${body.error ?? res.status}`);
    if (body.data.resultType !== 'vector') throw new Error(`the query ${promql} answered a ${body.data.resultType}, not a vector`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /**
   * Queries until `pred` holds on the answer (Prometheus sees a change only at its next
   * scrape); fails with the last answer and `context()` (e.g. berth's log tail).
   */
  async waitFor(promql: string, what: string, pred: (r: QuerySample[]) => boolean, context: () => Promise<string>, timeoutMs = 90_000): Promise<QuerySample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: QuerySample[] | string = '(no answer yet)';
    while (Date.now() < deadline) {
      try {
        last = await this.query(promql);
        if (pred(last)) return last;
      } catch (err) {
        last = String(err);
      }
      await sleep(500);
    }
    throw new Error(`prometheus did not show ${what} within ${timeoutMs} ms; ${promql} last answered ${JSON.stringify(last)}\n${await context()}`);
  }

  /** SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exit;
    clearTimeout(timer);
  }
}
