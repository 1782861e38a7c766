// Tiny test images, built FROM scratch around a static busybox and pushed to the test
// registry, so tests never pull from Docker Hub. Every image:
//   - holds its variant string in /variant and in /www/index.html (no trailing newline),
//     so different variants have different digests;
//   - serves /www over HTTP on port 8080 (busybox httpd);
//   - runs a shell loop as PID 1 that exits 0 promptly on SIGTERM;
//   - optionally has a HEALTHCHECK that passes ('healthy') or always fails ('unhealthy'),
//     both probing every second with a 2 s timeout and 2 retries.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REGISTRY, describeError, docker, statusCodeOf } from './engine.js';

const execFileAsync = promisify(execFile);

export interface TestImage {
  /** e.g. 127.0.0.1:5000/berth-test/web */
  repo: string;
  /** the variant */
  tag: string;
  /** repo:tag */
  ref: string;
  /** sha256:... manifest digest in the registry */
  digest: string;
  /** repo@sha256:... */
  pinned: string;
}

export type TestHealth = 'none' | 'healthy' | 'unhealthy';

export interface BuildTestImageOptions {
  /** Repository name under berth-test/ (lowercase, e.g. from uniqueName()). */
  name: string;
  /** Tag, and the content of /variant and /www/index.html. */
  variant: string;
  /** Default 'none': no HEALTHCHECK. */
  health?: TestHealth;
}

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const HOW_TO_GET_BUSYBOX =
  'install busybox-static (run `bash scripts/setup-engine.sh` as root, or `apt-get install busybox-static`)';

// Docker's grammar: a repository path component and a tag.
const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const PT_INTERP = 3;

/**
 * Whether an ELF executable asks for a program interpreter (i.e. is dynamically linked).
 * Reads the program headers directly: neither `file` nor binutils need be installed.
 */
async function elfInterpreterNeeded(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    const { bytesRead } = await fh.read(header, 0, header.length, 0);
    if (bytesRead < 52 || header.readUInt32BE(0) !== 0x7f454c46) {
      throw new Error(`${path} is not an ELF executable`);
    }
    const is64 = header[4] === 2;
    const le = header[5] === 1;
    const u16 = (off: number): number => (le ? header.readUInt16LE(off) : header.readUInt16BE(off));
    const u32 = (off: number): number => (le ? header.readUInt32LE(off) : header.readUInt32BE(off));
    const phoff = is64
      ? Number(le ? header.readBigUInt64LE(0x20) : header.readBigUInt64BE(0x20))
      : u32(0x1c);
    const phentsize = u16(is64 ? 0x36 : 0x2a);
    const phnum = u16(is64 ? 0x38 : 0x2c);
    if (phnum === 0 || phentsize < 4) return false;

    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const off = i * phentsize;
      const type = le ? table.readUInt32LE(off) : table.readUInt32BE(off);
      if (type === PT_INTERP) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

let busyboxPath: Promise<string> | undefined;

/** Path of a statically linked busybox on this machine (cached). */
export function staticBusybox(): Promise<string> {
  busyboxPath ??= (async () => {
    const problems: string[] = [];
    for (const candidate of BUSYBOX_CANDIDATES) {
      try {
        if (!(await elfInterpreterNeeded(candidate))) return candidate;
        problems.push(`${candidate} is dynamically linked and cannot run in a FROM scratch image`);
      } catch (err) {
        problems.push(`${candidate}: ${describeError(err)}`);
      }
    }
    throw new Error(`No static busybox found (${problems.join('; ')}); ${HOW_TO_GET_BUSYBOX}.`);
  })().catch((err: unknown) => {
    busyboxPath = undefined;
    throw err;
  });
  return busyboxPath;
}

function healthcheckLine(health: TestHealth): string {
  const timings = '--interval=1s --timeout=2s --retries=2';
  switch (health) {
    case 'none':
      return '';
    case 'healthy':
      return `HEALTHCHECK ${timings} CMD ["/bin/sh","-c","test -f /variant"]\n`;
    case 'unhealthy':
      return `HEALTHCHECK ${timings} CMD ["/bin/sh","-c","exit 1"]\n`;
  }
}

function dockerfile(health: TestHealth): string {
  // busybox httpd daemonizes; the shell stays PID 1 and exits 0 as soon as SIGTERM arrives
  // (`wait` is interrupted by a trapped signal, unlike a foreground `sleep`).
  const main = "httpd -p 8080 -h /www && trap 'exit 0' TERM INT && while true; do sleep 1 & wait $!; done";
  return (
    'FROM scratch\n' +
    'COPY busybox /bin/busybox\n' +
    'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n' +
    'COPY variant /variant\n' +
    'COPY www /www\n' +
    'EXPOSE 8080\n' +
    healthcheckLine(health) +
    `CMD ${JSON.stringify(['/bin/sh', '-c', main])}\n`
  );
}

async function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, {
      env: env === undefined ? process.env : { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const stdout = (err as { stdout?: unknown }).stdout;
    const tail =
      typeof stdout === 'string' && stdout.trim() !== ''
        ? `\n--- stdout (tail) ---\n${stdout.trim().split('\n').slice(-20).join('\n')}`
        : '';
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed: ${describeError(err)}${tail}`, { cause: err });
  }
}

/**
 * Builds `${REGISTRY}/berth-test/${name}:${variant}` with the legacy builder, pushes it and
 * returns its registry digest. Building the same name and variant twice with different
 * `health` retags: the tag always points at the latest build.
 */
export async function buildTestImage(opts: BuildTestImageOptions): Promise<TestImage> {
  const { name, variant } = opts;
  const health = opts.health ?? 'none';
  if (!NAME_RE.test(name)) throw new Error(`invalid test image name ${JSON.stringify(name)} (want e.g. web-1a2b3c)`);
  if (!TAG_RE.test(variant)) throw new Error(`invalid test image variant ${JSON.stringify(variant)} (must be a valid tag)`);

  const busybox = await staticBusybox();
  const repo = `${REGISTRY}/berth-test/${name}`;
  const ref = `${repo}:${variant}`;

  const dir = await mkdtemp(join(tmpdir(), 'berth-test-image-'));
  let pushOutput: string;
  try {
    await copyFile(busybox, join(dir, 'busybox'));
    await chmod(join(dir, 'busybox'), 0o755);
    await writeFile(join(dir, 'variant'), variant);
    await mkdir(join(dir, 'www'));
    await writeFile(join(dir, 'www', 'index.html'), variant);
    await writeFile(join(dir, 'Dockerfile'), dockerfile(health));

    await run('docker', ['build', '--label', 'berth.test=true', '-t', ref, dir], { DOCKER_BUILDKIT: '0' });
    pushOutput = await run('docker', ['push', ref]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const info = await docker().getImage(ref).inspect();
  const candidates = (info.RepoDigests ?? [])
    .filter((d) => d.startsWith(`${repo}@`))
    .map((d) => d.slice(repo.length + 1));
  // Prefer the digest `docker push` reported, when it is among the image's RepoDigests.
  const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(pushOutput)?.[1];
  const digest = pushed !== undefined && candidates.includes(pushed) ? pushed : candidates[0];
  if (digest === undefined) {
    throw new Error(
      `pushed ${ref} but its RepoDigests (${JSON.stringify(info.RepoDigests ?? [])}) have no entry for ${repo}`,
    );
  }
  return { repo, tag: variant, ref, digest, pinned: `${repo}@${digest}` };
}

/** Removes the local tags and digest references of the images (force; missing ones are fine). */
export async function removeTestImages(images: TestImage[]): Promise<void> {
  const d = docker();
  for (const image of images) {
    for (const name of [image.ref, image.pinned]) {
      try {
        await d.getImage(name).remove({ force: true });
      } catch (err) {
        if (statusCodeOf(err) !== 404) {
          throw new Error(`removing image ${name}: ${describeError(err)}`, { cause: err });
        }
      }
    }
  }
}
