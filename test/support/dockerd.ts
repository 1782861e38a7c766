// Stopping and starting the local Docker engine, for tests of what berth does when dockerd
// goes away in the middle of an update. Only the dockerd that scripts/setup-engine.sh starts
// (a plain root process, no systemd) is handled; anything else is refused rather than
// guessed at, because an engine that does not come back breaks every later test on the
// machine.
//
// What stopping involves (dockerd 20.10, no live-restore): on SIGTERM dockerd stops every
// container (SIGTERM, then SIGKILL after the container's stop timeout), stops the containerd
// it spawned itself (`containerd --config /var/run/docker/containerd/containerd.toml`), and
// removes /var/run/docker.pid and /var/run/docker.sock. On start it restarts the containers
// whose restart policy says so ('always', 'unless-stopped'); the others stay exited.
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { isAlive } from './berth-process.js';
import { REGISTRY, describeError } from './engine.js';

const execFileAsync = promisify(execFile);

const SOCKET = '/var/run/docker.sock';
const LOCAL_HOST = `unix://${SOCKET}`;
const PID_FILE = '/var/run/docker.pid';
const CONTAINERD_PID_FILE = '/var/run/docker/containerd/containerd.pid';
/** Where scripts/setup-engine.sh sends dockerd's output; this file appends to it too. */
const DOCKERD_LOG = '/var/log/berth-dockerd.log';

/** dockerd gives containers up to 15 s (its --shutdown-timeout) before its own teardown. */
const STOP_TIMEOUT_MS = 60_000;
/** As scripts/setup-engine.sh waits. */
const START_TIMEOUT_MS = 60_000;
const DOCKER_INFO_TIMEOUT_MS = 20_000;
const REGISTRY_TIMEOUT_MS = 10_000;
const POLL_MS = 200;
const LOG_TAIL_LINES = 30;

const RESTART_BY_HAND = 'to bring it back by hand: `bash scripts/setup-engine.sh` as root';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function commOf(pid: number): Promise<string | undefined> {
  return (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => undefined))?.trim();
}

async function parentOf(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // "pid (comm) state ppid ...": comm may contain spaces, so count from the last ')'.
  const ppid = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/** Pid of the running dockerd named by /var/run/docker.pid, if there is one. */
async function dockerdPid(): Promise<number | undefined> {
  const pid = await readPid(PID_FILE);
  if (pid === undefined || !(await isAlive(pid))) return undefined;
  return (await commOf(pid)) === 'dockerd' ? pid : undefined;
}

/** Pid of the containerd this dockerd spawned itself, if it did (rather than using a system one). */
async function managedContainerdPid(dockerd: number): Promise<number | undefined> {
  const pid = await readPid(CONTAINERD_PID_FILE);
  if (pid === undefined || !(await isAlive(pid))) return undefined;
  return (await parentOf(pid)) === dockerd && (await commOf(pid)) === 'containerd' ? pid : undefined;
}

/** Whether `docker info` gets an answer from the engine. */
async function engineAnswers(): Promise<boolean> {
  try {
    const { stdout } = await execFileAsync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: DOCKER_INFO_TIMEOUT_MS });
    return stdout.trim() !== '';
  } catch {
    return false;
  }
}

/** Whether something accepts connections on the engine's socket. */
function socketAccepts(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(SOCKET);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The last lines dockerd wrote to its log, from `fromByte` on (only this start's lines). */
async function dockerdLogTail(fromByte = 0): Promise<string> {
  try {
    const fh = await open(DOCKERD_LOG, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(fromByte, size - 64 * 1024);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      const lines = buf.toString('utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES);
      return `log tail (${DOCKERD_LOG}):\n${lines.join('\n')}`;
    } finally {
      await fh.close();
    }
  } catch (err) {
    return `(cannot read ${DOCKERD_LOG}: ${describeError(err)})`;
  }
}

/**
 * The pid of the local dockerd (undefined if none runs), after checking that it is one this
 * process may stop and start: DOCKER_HOST and DOCKER_CONTEXT leave the CLI on
 * /var/run/docker.sock, we are root, and systemd does not supervise it. Throws otherwise.
 */
async function restartableDockerd(): Promise<number | undefined> {
  const host = process.env['DOCKER_HOST'];
  if (host !== undefined && host !== '' && host !== LOCAL_HOST) {
    throw new Error(`refusing to restart the Docker engine: DOCKER_HOST=${host} points at an engine this machine cannot restart; unset DOCKER_HOST to test against the local dockerd`);
  }
  const context = process.env['DOCKER_CONTEXT'];
  if (context !== undefined && context !== '' && context !== 'default') {
    throw new Error(`refusing to restart the Docker engine: DOCKER_CONTEXT=${context} may point at another engine; unset DOCKER_CONTEXT to test against the local dockerd`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error('refusing to restart the Docker engine: stopping and starting dockerd needs root; run the tests as root');
  }
  const pid = await dockerdPid();
  if (pid === undefined) {
    if (await engineAnswers()) {
      throw new Error(`refusing to restart the Docker engine: an engine answers on ${SOCKET} but ${PID_FILE} names no dockerd process here (a socket shared from the host, or Docker Desktop?); only a dockerd started by scripts/setup-engine.sh can be restarted`);
    }
    return undefined;
  }
  const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  if (/docker\.service/.test(cgroup)) {
    throw new Error(`refusing to restart the Docker engine: dockerd (pid ${pid}) is run by systemd (docker.service); restarting it behind systemd's back would make the two fight, so stop it with \`systemctl stop docker\` and start it with scripts/setup-engine.sh instead`);
  }
  return pid;
}

/** Polls `done` every POLL_MS until it holds; returns false if `timeoutMs` passes first. */
async function pollUntil(timeoutMs: number, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Stops the local dockerd: SIGTERM to the pid in /var/run/docker.pid, then waits (bounded)
 * until it, the containerd it spawned, its pid file and its socket are all gone. Returns at
 * once if no dockerd runs. Refuses an engine it cannot restart (see restartableDockerd).
 */
export async function stopEngine(): Promise<void> {
  const pid = await restartableDockerd();
  if (pid === undefined) return;
  const containerd = await managedContainerdPid(pid);
  process.kill(pid, 'SIGTERM');
  const gone = await pollUntil(STOP_TIMEOUT_MS, async () => {
    if (await isAlive(pid)) return false;
    if (containerd !== undefined && (await isAlive(containerd))) return false;
    // A pid file naming a dead process is harmless (dockerd replaces it), a live one is not.
    if ((await dockerdPid()) !== undefined) return false;
    return !(await socketAccepts());
  });
  if (!gone) {
    const what = (await isAlive(pid))
      ? `dockerd (pid ${pid}) is still running`
      : containerd !== undefined && (await isAlive(containerd))
        ? `dockerd exited but its containerd (pid ${containerd}) is still running`
        : `dockerd exited but ${PID_FILE} or ${SOCKET} is still in use`;
    throw new Error(`${what} ${STOP_TIMEOUT_MS} ms after SIGTERM; ${RESTART_BY_HAND} (after \`kill -KILL\` of what is left).\n${await dockerdLogTail()}`);
  }
}

/**
 * Starts dockerd as scripts/setup-engine.sh does (`setsid nohup dockerd >>/var/log/berth-
 * dockerd.log 2>&1 </dev/null &`), waits (bounded) until `docker info` answers, then checks
 * that the test registry still answers. Returns at once if the engine already answers.
 */
export async function startEngine(): Promise<void> {
  let pid = await restartableDockerd();
  if (pid === undefined || !(await engineAnswers())) {
    // Set once the dockerd being waited for is known to be gone: then waiting is pointless.
    let gone: string | undefined;
    const logStart = await stat(DOCKERD_LOG).then((s) => s.size, () => 0);
    if (pid === undefined) {
      // detached: true is setsid (own session: a Ctrl-C of the tests never reaches dockerd);
      // nohup keeps the script's SIGHUP handling; the child writes straight to the log file.
      const fd = openSync(DOCKERD_LOG, 'a');
      try {
        const child = spawn('nohup', ['dockerd'], { detached: true, stdio: ['ignore', fd, fd] });
        child.once('error', (err) => {
          gone = `could not be started (${describeError(err)})`;
        });
        child.once('exit', (code, signal) => {
          gone = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
        });
        child.unref();
        pid = child.pid;
      } finally {
        closeSync(fd);
      }
    }
    const up = await pollUntil(START_TIMEOUT_MS, async () => {
      if (await engineAnswers()) return true;
      // One this process did not start (a dockerd still starting up) is watched through /proc.
      if (gone === undefined && pid !== undefined && !(await isAlive(pid))) gone = 'exited';
      return gone !== undefined;
    });
    if (gone !== undefined || !up) {
      const what = gone !== undefined ? `${gone} before answering \`docker info\`` : `did not answer \`docker info\` within ${START_TIMEOUT_MS} ms`;
      throw new Error(`dockerd (pid ${String(pid)}) ${what}; ${RESTART_BY_HAND}.\n${await dockerdLogTail(logStart)}`);
    }
  }
  await checkRegistry();
}

/** The registry is a separate process and must have outlived the engine's restart. */
async function checkRegistry(): Promise<void> {
  const url = `http://${REGISTRY}/v2/`;
  let status: number;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    throw new Error(`the Docker engine is up but no registry answers GET ${url}: ${describeError(err)}; ${RESTART_BY_HAND} (it starts the registry too)`, { cause: err });
  }
  if (status !== 200) {
    throw new Error(`the Docker engine is up but GET ${url} returned HTTP ${status}, expected 200; ${RESTART_BY_HAND}`);
  }
}

/**
 * Stops the local dockerd (see stopEngine), leaves it stopped for `downMs` (default 0), and
 * starts it again (see startEngine). Containers with restart policy 'always' run again
 * afterwards; others are left exited.
 */
export async function restartEngine(opts?: { downMs?: number }): Promise<void> {
  await stopEngine();
  if (opts?.downMs !== undefined && opts.downMs > 0) await sleep(opts.downMs);
  await startEngine();
}
