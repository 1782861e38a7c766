// `npm run demo`: the whole story of an update, on this machine. It builds four releases of a
// small web shop, publishes them signed on a local channel, and runs `berth run` with the
// console, one release at a time:
//   1.0.0 runs -> 1.1.0 applies by itself (a minor) -> 2.0.0 waits for a person's approval
//   (a major) -> 2.1.0 is broken, fails its health gate and is rolled back by itself.
// Everything lives in a folder the demo owns, outside any git checkout (so `berth rollback`
// is not refused), with berth's default layout (.berth/manifests, .berth/state): the hint
// commands work there as printed, without flags.
//
// Between releases it waits for Enter on a terminal, or DEMO_PAUSE_SECONDS (default 5) when
// DEMO_NONINTERACTIVE=1 or stdin is no terminal. 2.0.0 waits for approval in both cases.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { StackStatus } from '../api/types.js';
import { findGitCheckout } from '../store/edit.js';
import { acquireStateLock, StateLockedError, type StateLock } from '../store/lock.js';
import { StateStore } from '../store/state.js';
import { writeFileAtomic } from '../util/atomic.js';
import { serveFeed, type StaticFeed } from './feed-server.js';
import { buildDemoImage, findStaticBusybox } from './images.js';
import { takenAddresses, type PortCheck } from './ports.js';

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const STACK = 'demo';

interface Config {
  dir: string;
  interactive: boolean;
  pauseMs: number;
  http: string;
  shopPort: number;
  project: string;
  registry: string;
  stepTimeoutMs: number;
}

function config(env: NodeJS.ProcessEnv): Config {
  const stateHome = env['XDG_STATE_HOME'] !== undefined && env['XDG_STATE_HOME'] !== '' ? env['XDG_STATE_HOME'] : join(homedir(), '.local', 'state');
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new DemoError(`${name} must be a number ≥ 0, not "${raw}"`);
    return n;
  };
  return {
    dir: resolve(env['DEMO_DIR'] !== undefined && env['DEMO_DIR'] !== '' ? env['DEMO_DIR'] : join(stateHome, 'berth', 'demo')),
    interactive: env['DEMO_NONINTERACTIVE'] !== '1' && process.stdin.isTTY === true,
    pauseMs: num('DEMO_PAUSE_SECONDS', 5) * 1000,
    http: env['DEMO_HTTP'] ?? '127.0.0.1:8420',
    shopPort: num('DEMO_SHOP_PORT', 8088),
    project: env['DEMO_PROJECT'] ?? 'berth-demo',
    registry: env['DEMO_REGISTRY'] ?? '127.0.0.1:5000',
    stepTimeoutMs: num('DEMO_STEP_TIMEOUT_SECONDS', 180) * 1000,
  };
}

/** The console's and the shop's addresses, each with the variable that moves it (port 0: any free one, never taken). */
function portChecks(c: Config): PortCheck[] {
  const checks: PortCheck[] = [{ what: 'the shop', host: '127.0.0.1', port: c.shopPort, knob: 'DEMO_SHOP_PORT', example: String(c.shopPort + 1) }];
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(c.http);
  if (c.http !== 'off' && m !== null) {
    const host = m[1]!;
    const port = Number(m[2]);
    checks.unshift({ what: 'the console', host, port, knob: 'DEMO_HTTP', example: `${host.includes(':') ? `[${host}]` : host}:${port + 1}` });
  }
  return checks.filter((x) => x.port !== 0);
}

/** A failure the demo explains itself: printed without a stack trace. */
class DemoError extends Error {}

const RELEASES = [
  { version: '1.0.0', broken: false, notes: 'The first release of the demo shop.' },
  { version: '1.1.0', broken: false, notes: 'A minor release: a nicer page. berth applies it by itself (`policy.autoApply: minor`).' },
  {
    version: '2.0.0',
    broken: false,
    notes: [
      '## 2.0.0: a major release',
      '',
      'A major version may need work on your side, so berth **waits for your approval**:',
      '',
      '- read these notes,',
      '- then click **Apply update** (or run `berth approve demo 2.0.0`).',
      '',
      'berth has already downloaded the image, so applying it does not wait for the network.',
    ].join('\n'),
  },
  {
    version: '2.1.0',
    broken: true,
    notes: 'Broken on purpose: its web server serves no page, so it fails its health gate and berth rolls it back to 2.0.0 by itself.',
  },
] as const;

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function step(n: number, title: string): void {
  say('');
  say(`demo: ── step ${n}/4: ${title}`);
}

/** `s` as one word for sh, whatever it holds. */
function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

class Demo {
  private lock: StateLock | undefined;
  private berth: ChildProcess | undefined;
  private berthExit: Promise<number | null> | undefined;
  private feed: StaticFeed | undefined;
  private readonly store: StateStore;
  private readonly state: string;
  private readonly manifests: string;
  private readonly log: string;
  private consoleUrl = '';
  private stopping = false;
  /** Ctrl-C while the demo waits for Enter: readline takes the signal, so it is handed on. */
  onInterrupt: () => void = () => undefined;

  constructor(private readonly c: Config) {
    this.state = join(c.dir, '.berth', 'state');
    this.manifests = join(c.dir, '.berth', 'manifests');
    this.log = join(c.dir, 'berth.log');
    this.store = new StateStore(this.state);
  }

  /** Another demo on this folder: say so before doing anything (no images, no hints). */
  async claim(): Promise<void> {
    await mkdir(this.c.dir, { recursive: true, mode: 0o700 });
    const git = await findGitCheckout(this.c.dir);
    if (git !== undefined) {
      throw new DemoError(
        `${this.c.dir} is inside the git checkout ${git}, where \`berth rollback\` refuses to edit manifests (git owns them); set DEMO_DIR to a folder outside any checkout, e.g. DEMO_DIR=/tmp/berth-demo npm run demo`,
      );
    }
    try {
      this.lock = await acquireStateLock(this.c.dir, { command: 'npm run demo' });
    } catch (err) {
      if (!(err instanceof StateLockedError)) throw err;
      const url = (await readFile(join(this.c.dir, 'console-url'), 'utf8').catch(() => '')).trim();
      throw new DemoError(
        [
          `another demo is already running in ${this.c.dir} (pid ${err.holder.pid}, started ${err.holder.started}).`,
          url !== '' ? `      Its console: ${url}/stacks/${STACK}; its hints are in its own terminal.` : '      Its hints are in its own terminal.',
          `      Go on with that one, or stop it first (Ctrl-C in its terminal, or \`kill ${err.holder.pid}\`) and run \`npm run demo\` again.`,
        ].join('\n'),
      );
    }
  }

  /** A demo killed without cleaning up may have left its berth running: this demo owns it, so it stops it. */
  private async stopLeftoverBerth(): Promise<void> {
    const pid = Number((await readFile(join(this.c.dir, 'berth.pid'), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(this.state)) return;
    say(`demo: stopping the berth (pid ${pid}) an earlier demo left running`);
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) !== ''; i++) await sleep(100);
  }

  /** Starts from nothing: the demo's own stack, state, keys and feed of an earlier run go. */
  async reset(): Promise<void> {
    await this.stopLeftoverBerth();
    // The earlier run's containers carry that berth's instance id; a new state folder would
    // find them ManagedElsewhere. They are the demo's own, so they go.
    await execFileAsync('docker', ['compose', '-p', this.c.project, 'down', '--remove-orphans', '--timeout', '3']).catch(() => undefined);
    for (const sub of ['.berth', 'feed', 'keys', 'releases', 'berth.log', 'berth.pid', 'console-url', 'berth']) {
      await rm(join(this.c.dir, sub), { recursive: true, force: true });
    }
  }

  private async berthCli(args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync(process.execPath, [CLI, ...args], { cwd: this.c.dir });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new DemoError(`\`berth ${args.join(' ')}\` failed: ${e.stderr?.trim() || e.message}`);
    }
  }

  async prepare(): Promise<Map<string, string>> {
    const busybox = await findStaticBusybox();
    const repo = `${this.c.registry}/${this.c.project}/web`;
    const images = new Map<string, string>();
    for (const r of RELEASES) {
      say(`demo: building ${repo}:${r.version}${r.broken ? ' (broken on purpose)' : ''}`);
      images.set(r.version, await buildDemoImage(repo, r.version, busybox, r.broken));
    }
    say(`demo: berth release keygen --out keys`);
    await this.berthCli(['release', 'keygen', '--out', 'keys']);
    await mkdir(join(this.c.dir, 'releases'), { recursive: true });
    for (const r of RELEASES) {
      const body = [
        `apiVersion: berth.dev/v1alpha1`,
        `kind: Release`,
        `metadata:`,
        `  name: demo-${r.version}`,
        `spec:`,
        `  version: "${r.version}"`,
        `  images:`,
        `    web: ${images.get(r.version)!}`,
        `  notes: ${JSON.stringify(r.notes)}`,
        '',
      ].join('\n');
      await writeFileAtomic(join(this.c.dir, 'releases', `demo-${r.version}.release.yaml`), body);
    }
    await mkdir(join(this.c.dir, 'feed'), { recursive: true });
    return images;
  }

  async writeStack(feedUrl: string): Promise<void> {
    const stackDir = join(this.manifests, STACK);
    await mkdir(stackDir, { recursive: true });
    await copyFile(join(this.c.dir, 'keys', 'release.pub'), join(stackDir, 'release.pub'));
    await writeFileAtomic(
      join(stackDir, 'compose.yaml'),
      [
        `# The shop's compose file: each release pins the web image by digest.`,
        `services:`,
        `  web:`,
        `    image: ${this.c.registry}/${this.c.project}/web`,
        `    ports: ["127.0.0.1:${this.c.shopPort}:8080"]`,
        `    healthcheck:`,
        `      test: ["CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]`,
        `      interval: 1s`,
        `      timeout: 2s`,
        `      retries: 2`,
        '',
      ].join('\n'),
    );
    await writeFileAtomic(
      join(this.manifests, `${STACK}.yaml`),
      [
        `# The demo's Stack: it follows the channel the demo publishes on. Edit it and berth converges.`,
        `apiVersion: berth.dev/v1alpha1`,
        `kind: Stack`,
        `metadata:`,
        `  name: ${STACK}`,
        `spec:`,
        `  compose:`,
        `    file: ${STACK}/compose.yaml`,
        `    project: ${this.c.project}`,
        `  mode: auto                 # minor and patch releases apply by themselves`,
        `  channel:`,
        `    url: ${feedUrl}`,
        `    name: stable`,
        `    publicKey: ${STACK}/release.pub   # releases signed by any other key are refused`,
        `    intervalSeconds: 2       # check in often: this is a demo (default 300)`,
        `    jitterSeconds: 0`,
        `  policy:`,
        `    autoApply: minor         # a major release waits for spec.approve`,
        `  health:                    # the gate every new release must pass, or berth rolls it back`,
        `    stableForSeconds: 3`,
        `    progressDeadlineSeconds: 60`,
        `    probes:`,
        `      - service: web`,
        `        port: 8080`,
        `  rollback:`,
        `    auto: true`,
        '',
      ].join('\n'),
    );
  }

  async startFeed(): Promise<string> {
    this.feed = await serveFeed(join(this.c.dir, 'feed'));
    return this.feed.url;
  }

  async startBerth(): Promise<void> {
    const out = openSync(this.log, 'a', 0o600);
    try {
      this.berth = spawn(process.execPath, [CLI, 'run', '--manifests', this.manifests, '--state', this.state, '--http', this.c.http], {
        cwd: this.c.dir,
        stdio: ['ignore', out, out],
        env: { ...process.env, BERTH_LOG_LEVEL: process.env['BERTH_LOG_LEVEL'] ?? 'info' },
      });
    } finally {
      closeSync(out);
    }
    const child = this.berth;
    this.berthExit = new Promise((ok) => child.once('exit', (code) => ok(code)));
    await writeFileAtomic(join(this.c.dir, 'berth.pid'), `${child.pid}\n`);
    // A small `berth` next to the manifests, so the hints work as printed in this folder.
    // It names the demo's folders too, so BERTH_STATE or BERTH_MANIFESTS exported for
    // another berth do not send it elsewhere.
    await writeFile(
      join(this.c.dir, 'berth'),
      [
        '#!/bin/sh',
        `# berth as built in ${REPO_ROOT}, on this demo's manifests and state`,
        `BERTH_MANIFESTS=${shq(this.manifests)} BERTH_STATE=${shq(this.state)} exec ${shq(process.execPath)} ${shq(CLI)} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    if (this.c.http === 'off') return;
    const deadline = Date.now() + 30_000;
    while (this.consoleUrl === '') {
      await this.checkBerthAlive();
      const text = await readFile(this.log, 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!line.includes('web console listening')) continue;
        try {
          const url = (JSON.parse(line) as { url?: unknown }).url;
          if (typeof url === 'string') this.consoleUrl = url.replace(/\/$/, '');
        } catch {
          // Not a JSON line (pretty logs): keep looking.
        }
      }
      if (this.consoleUrl !== '') break;
      if (Date.now() > deadline) throw new DemoError(`berth did not start its web console within 30 s; see ${this.log}`);
      await sleep(200);
    }
    await writeFileAtomic(join(this.c.dir, 'console-url'), `${this.consoleUrl}\n`);
  }

  private async checkBerthAlive(): Promise<void> {
    if (this.berth === undefined || this.berth.exitCode === null) return;
    const tail = (await readFile(this.log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n      ');
    throw new DemoError(`berth stopped (exit code ${this.berth.exitCode}); the end of ${this.log}:\n      ${tail}`);
  }

  async publish(version: string): Promise<void> {
    const file = `releases/demo-${version}.release.yaml`;
    say(`demo: berth release publish ${file} --key keys/release.key --feed feed --channel stable`);
    await this.berthCli(['release', 'publish', file, '--key', 'keys/release.key', '--feed', 'feed', '--channel', 'stable']);
  }

  /**
   * Polls the stack's status until `done` holds; fails when berth stops or the step takes too
   * long. A step that waits for a person takes as long as the person does ('forever'; an
   * explicit undefined would have meant the default, and the demo gave up on a person reading
   * the release notes after 180 s).
   */
  async waitFor(what: string, done: (s: StackStatus) => boolean, timeoutMs: number | 'forever' = this.c.stepTimeoutMs): Promise<StackStatus> {
    const deadline = timeoutMs === 'forever' ? Infinity : Date.now() + timeoutMs;
    let last: StackStatus | undefined;
    for (;;) {
      await this.checkBerthAlive();
      last = await this.store.readStatus({ stack: STACK }).catch(() => undefined);
      if (last !== undefined && done(last)) return last;
      if (Date.now() > deadline) {
        const ready = last?.status.conditions.find((c) => c.type === 'Ready');
        throw new DemoError(
          `waited ${Math.round(Number(timeoutMs) / 1000)} s for ${what}; the stack says: ${ready ? `${ready.reason}: ${ready.message}` : 'no status yet'}. berth's log: ${this.log}`,
        );
      }
      await sleep(300);
    }
  }

  async pause(next: string): Promise<void> {
    if (this.c.interactive) {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      rl.once('SIGINT', () => {
        rl.close();
        this.onInterrupt();
      });
      await new Promise<void>((ok) => rl.question(`\ndemo: press Enter to ${next} `, () => ok()));
      rl.close();
      return;
    }
    say(`demo: in ${this.c.pauseMs / 1000} s: ${next}`);
    await sleep(this.c.pauseMs);
  }

  page(): string {
    return this.consoleUrl === '' ? '(the console is off: DEMO_HTTP=off)' : `${this.consoleUrl}/stacks/${STACK}`;
  }

  async token(): Promise<string | undefined> {
    return (await readFile(join(this.state, 'http-token'), 'utf8').catch(() => '')).trim() || undefined;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.berth !== undefined && this.berth.exitCode === null) {
      this.berth.kill('SIGTERM');
      const killer = setTimeout(() => this.berth?.kill('SIGKILL'), 15_000);
      await this.berthExit;
      clearTimeout(killer);
    }
    await rm(join(this.c.dir, 'berth.pid'), { force: true });
    await rm(join(this.c.dir, 'console-url'), { force: true });
    await this.feed?.close();
    await this.lock?.release();
  }

  /** Resolves when a person stops the demo (Ctrl-C), or berth stops by itself. */
  async untilStopped(): Promise<void> {
    await Promise.race([this.berthExit, new Promise<void>((ok) => process.once('SIGINT', () => ok()))]);
  }
}

const isReady = (version: string) => (s: StackStatus) =>
  s.status.currentVersion === version && s.status.operation === undefined && s.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

async function main(): Promise<number> {
  const c = config(process.env);
  const demo = new Demo(c);
  await demo.claim();
  const onSignal = (signal: NodeJS.Signals): void => {
    say(`\ndemo: ${signal}: stopping berth (the demo stack keeps running; \`docker compose -p ${c.project} down\` removes it)`);
    void demo.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGTERM', onSignal);
  const sigint = (): void => onSignal('SIGINT');
  demo.onInterrupt = sigint;
  process.on('SIGINT', sigint);
  try {
    say(`demo: the demo's folder is ${c.dir}`);
    say(`demo: (its manifests and state use berth's default layout: .berth/manifests and .berth/state)`);
    await demo.reset();
    // After reset: the previous demo's shop, which held the shop's port, is gone by now.
    const taken = await takenAddresses(portChecks(c));
    if (taken.length > 0) throw new DemoError(taken.join('\n      '));
    await demo.prepare();
    const feedUrl = await demo.startFeed();
    await demo.writeStack(feedUrl);
    await demo.publish('1.0.0');
    await demo.startBerth();
    const token = await demo.token();
    const cd = `cd ${c.dir}`;

    step(1, 'version 1.0.0 installs from the channel');
    say(`demo: the channel ${feedUrl}/stable/index.json offers 1.0.0; berth checks in, pulls it, starts it and verifies it.`);
    await demo.waitFor('1.0.0 to run and pass its health gate', isReady('1.0.0'));
    say(`demo: 1.0.0 runs. Look at it:`);
    say(`        the shop:     http://127.0.0.1:${c.shopPort}/`);
    say(`        the console:  ${demo.page()}${token !== undefined ? `   (login token: ${token})` : ''}`);
    say(`        the CLI:      ${cd} && ./berth get && ./berth describe ${STACK}`);
    say(`      (./berth there runs this checkout's berth; \`berth\` itself works there too after \`npm link\`)`);
    say(`        self-healing: docker rm -f ${c.project}-web-1   (berth starts it again within seconds)`);
    await demo.pause('publish 1.1.0, a minor release');

    step(2, '1.1.0, a minor release, applies by itself');
    await demo.publish('1.1.0');
    await demo.waitFor('1.1.0 to be applied and pass its health gate', isReady('1.1.0'));
    say(`demo: 1.1.0 runs: berth applied it without asking (spec.policy.autoApply: minor).`);
    say(`        the console shows it in the stack's history: ${demo.page()}`);
    say(`        or: ${cd} && ./berth history ${STACK}`);
    await demo.pause('publish 2.0.0, a major release');

    step(3, '2.0.0, a major release, waits for your approval');
    await demo.publish('2.0.0');
    await demo.waitFor(
      '2.0.0 to be offered and wait for approval',
      (s) => s.status.available?.version === '2.0.0' && s.status.conditions.some((x) => x.type === 'AwaitingApproval' && x.status === 'True'),
    );
    say(`demo: 2.0.0 waits for your approval; 1.1.0 keeps running. berth has already downloaded its image.`);
    say(`        1. open ${demo.page()}${token !== undefined ? ` and log in with the token ${token}` : ''}`);
    say(`        2. read the release notes of 2.0.0 on that page`);
    say(`        3. click "Apply update"`);
    say(`      or from a terminal: ${cd} && ./berth approve ${STACK} 2.0.0`);
    say(`      (both set spec.approve: "2.0.0" in ${join(c.dir, '.berth', 'manifests', `${STACK}.yaml`)}; editing that line by hand works too)`);
    say(`demo: waiting for the approval...`);
    await demo.waitFor('2.0.0 to be approved, applied and pass its health gate', isReady('2.0.0'), 'forever');
    say(`demo: 2.0.0 runs: you approved it, berth applied and verified it.`);
    await demo.pause('publish 2.1.0, a broken release');

    step(4, '2.1.0 is broken and is rolled back by itself');
    await demo.publish('2.1.0');
    say(`demo: 2.1.0 serves no page: its healthcheck and berth's probe fail. Watch ${demo.page()}`);
    const after = await demo.waitFor(
      '2.1.0 to fail its health gate and be rolled back',
      (s) =>
        s.status.quarantine?.version === '2.1.0' &&
        s.status.operation === undefined &&
        s.status.currentVersion === '2.0.0' &&
        s.status.conditions.some((x) => x.type === 'Degraded' && x.reason === 'RolledBack'),
    );
    say(`demo: 2.1.0 failed (${after.status.quarantine?.reason ?? 'its health gate'}) and berth rolled back to 2.0.0 by itself.`);
    say(`      It will not apply 2.1.0 again on its own: 2.1.0 is quarantined until a newer release or a person says otherwise.`);
    say(`        the console: ${demo.page()} (the history shows the update and the rollback)`);
    say(`        the CLI:     ${cd} && ./berth history ${STACK}`);
    say('');
    say(`demo: that is the whole story.`);
    if (c.interactive) {
      say(`demo: berth keeps running so you can look around; Ctrl-C stops it (the stack keeps running;`);
      say(`      \`docker compose -p ${c.project} down\` removes it).`);
      process.off('SIGINT', sigint);
      await demo.untilStopped();
    } else {
      say(`demo: stopping berth (the stack keeps running; \`docker compose -p ${c.project} down\` removes it).`);
    }
    await demo.stop();
    return 0;
  } catch (err) {
    await demo.stop().catch(() => undefined);
    throw err;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof DemoError) process.stderr.write(`demo: ${err.message}\n`);
    else process.stderr.write(`demo: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
