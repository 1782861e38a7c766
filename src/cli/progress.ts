// Pull progress on a terminal (`berth run --once`): one bar per image, redrawn in place below
// the log lines. Only when stderr is a TTY; JSON logs get nothing extra. Log lines on the
// terminal go through writeAbove(), so a redraw never overwrites one.
import { Writable } from 'node:stream';
import type { PullEvent } from '../docker/engine.js';
import type { PullProgress } from '../docker/pull.js';

interface Layer {
  current: number;
  total: number;
  done: boolean;
}

interface ImagePull {
  layers: Map<string, Layer>;
  state: 'pulling' | 'done' | 'failed';
  error?: string;
}

const BAR = 24;
const REDRAW_MS = 100;

function size(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** `repo@sha256:0123456789ab`: enough to tell images apart on one line. */
function shortRef(ref: string): string {
  const at = ref.indexOf('@sha256:');
  return at < 0 ? ref : `${ref.slice(0, at)}@${ref.slice(at + 8, at + 20)}`;
}

export class PullBars implements PullProgress {
  private readonly pulls = new Map<string, ImagePull>();
  /** Lines of the block drawn last (erased before anything else is written). */
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  /** A stream for the terminal logger: each line is written above the bars. */
  logStream(): Writable {
    return new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        this.writeAbove(chunk.toString());
        cb();
      },
    });
  }

  start(ref: string): void {
    this.pulls.set(ref, { layers: new Map(), state: 'pulling' });
    this.schedule();
  }

  event(ref: string, e: PullEvent): void {
    const pull = this.pulls.get(ref);
    if (pull === undefined || e.id === undefined) return;
    const layer = pull.layers.get(e.id) ?? { current: 0, total: 0, done: false };
    if (e.status === 'Downloading' && e.progressDetail?.total !== undefined) {
      layer.current = e.progressDetail.current ?? layer.current;
      layer.total = e.progressDetail.total;
    } else if (e.status === 'Download complete' || e.status === 'Pull complete' || e.status === 'Already exists') {
      layer.current = layer.total;
      layer.done = true;
    } else if (e.status === 'Pulling fs layer' || e.status === 'Waiting') {
      // Counted from here on, so the bar does not jump to 100% while layers are still queued.
    } else {
      return;
    }
    pull.layers.set(e.id, layer);
    this.schedule();
  }

  done(ref: string, error?: Error): void {
    const pull = this.pulls.get(ref);
    if (pull === undefined) return;
    pull.state = error === undefined ? 'done' : 'failed';
    if (error !== undefined) pull.error = error.message.split('\n')[0] ?? '';
    this.redraw();
    // Once every image is in, the block stays on screen as it is, and the next pass starts a new one.
    if ([...this.pulls.values()].every((p) => p.state !== 'pulling')) {
      this.drawn = 0;
      this.pulls.clear();
    }
  }

  /** Writes `text` (whole lines) above the bars. */
  writeAbove(text: string): void {
    this.erase();
    this.out.write(text);
    this.draw();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.redraw();
    }, REDRAW_MS);
  }

  private redraw(): void {
    this.erase();
    this.draw();
  }

  private erase(): void {
    // Up to the block's first line, then clear to the end of the screen.
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\r\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (this.pulls.size === 0) return;
    // A line that wraps would break the redraw; a terminal that reports no size gets whole lines.
    const cols = this.out.columns;
    const width = cols !== undefined && cols > 0 ? cols - 1 : Infinity;
    const lines = [...this.pulls].map(([ref, p]) => this.line(ref, p).slice(0, width));
    this.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }

  private line(ref: string, p: ImagePull): string {
    const name = shortRef(ref);
    if (p.state === 'failed') return `  failed: ${name}: ${p.error ?? ''}`;
    const layers = [...p.layers.values()];
    const total = layers.reduce((n, l) => n + l.total, 0);
    const current = layers.reduce((n, l) => n + Math.min(l.current, l.total), 0);
    const known = layers.length > 0 && layers.every((l) => l.total > 0 || l.done);
    const ratio = p.state === 'done' ? 1 : known && total > 0 ? current / total : 0;
    const filled = Math.round(ratio * BAR);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}]`;
    const pct = `${String(Math.floor(ratio * 100)).padStart(3)}%`;
    const sizes = total > 0 ? `  ${size(current)} / ${size(total)}` : '';
    // The bar first, the name last: on a narrow terminal the name is what gets cut.
    return `  ${bar} ${pct}${sizes}${p.state === 'done' ? '  pulled' : ''}  ${name}`;
  }
}

/** Bars for `berth run --once` when stderr is a terminal; undefined otherwise (JSON logs, pipes). */
export function pullBarsForTerminal(): PullBars | undefined {
  return process.stderr.isTTY === true ? new PullBars(process.stderr) : undefined;
}
