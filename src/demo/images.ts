// The demo's images: a static busybox FROM scratch serving one page, as the tests build
// theirs (no base image can be pulled here). A broken release serves no page at all, so
// its healthcheck and berth's probe fail.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY www /www
EXPOSE 8080
CMD ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
`;

/** A statically linked busybox (a FROM scratch image has no loader for a dynamic one). */
export async function findStaticBusybox(): Promise<string> {
  for (const candidate of ['/bin/busybox', '/usr/bin/busybox']) {
    const fh = await open(candidate, 'r').catch(() => undefined);
    if (fh === undefined) continue;
    try {
      const { stdout } = await run('file', ['-L', candidate]).catch(() => ({ stdout: '' }));
      // Without `file`, trust the package setup-engine.sh installs (busybox-static).
      if (stdout === '' || /statically linked|static-pie/.test(stdout)) return candidate;
    } finally {
      await fh.close();
    }
  }
  throw new Error('no static busybox found; run (as root) `bash scripts/setup-engine.sh`, which installs busybox-static');
}

function page(version: string): string {
  return `<!doctype html><title>demo ${version}</title><body style="font-family:sans-serif;margin:3em"><h1>berth demo shop</h1><p>version <b>${version}</b></p></body>\n`;
}

/** Builds and pushes `repo:version`; returns `repo@sha256:…` as the registry knows it. */
export async function buildDemoImage(repo: string, version: string, busybox: string, broken: boolean): Promise<string> {
  const ctx = await mkdtemp(join(tmpdir(), 'berth-demo-image-'));
  const ref = `${repo}:${version}`;
  try {
    await copyFile(busybox, join(ctx, 'busybox'));
    await chmod(join(ctx, 'busybox'), 0o755);
    await mkdir(join(ctx, 'www'));
    // The broken one still differs by content (so its digest differs), but has no index page.
    await writeFile(join(ctx, 'www', broken ? 'broken.txt' : 'index.html'), broken ? `${version} serves no page\n` : page(version));
    await writeFile(join(ctx, 'Dockerfile'), DOCKERFILE);
    await run('docker', ['build', '-q', '--label', 'berth.demo=true', '-t', ref, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, maxBuffer: 16 << 20 });
    const { stdout } = await run('docker', ['push', ref], { maxBuffer: 16 << 20 });
    const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
    if (pushed === undefined) throw new Error(`pushed ${ref} but docker push printed no digest:\n${stdout.trim()}`);
    return `${repo}@${pushed}`;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`building the demo image ${ref} failed: ${(err as Error).message.split('\n')[0] ?? ''}${stderr ? `\n${stderr}` : ''}`, { cause: err });
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
}
