// progress: one status line for the training loop. On a terminal it redraws a bar in place,
// fitted to the terminal's width (process.stdout.columns, else 80) so that it never wraps;
// otherwise (logs, CI) it prints a plain line every `every` steps. No dependency: the line is
// a few fields, and a library would add nothing but a redraw we already do in one write.
export interface ProgressFields {
  step: number;
  total: number;
  loss: number;
  lr: number;
  imgsPerSec: number;
  etaSec: number;
  /** Model FLOPs per second over the adapter's measured peak, as a fraction. */
  mfu?: number;
  extra?: string;
}

const fmtTime = (secs: number) => {
  if (!Number.isFinite(secs)) return '--';
  const s = Math.round(secs); // round once, so 59.6 s never prints as "60s"
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h > 0 ? `${h}h${String(m % 60).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/** The most characters a redrawn line may take: one less than the terminal's width, so it never wraps. */
function lineBudget(stream: NodeJS.WriteStream): number {
  return (stream.columns || process.stdout.columns || 80) - 1;
}

/** The status line for a terminal of `budget` characters: the bar shrinks, then goes, then the least useful fields go. */
export function fitLine(fields: readonly string[], pct: number, budget: number): string {
  // fields: step, loss, lr, img/s, ETA, extra; when they do not fit, extra goes first, then lr, then img/s
  const [step, loss, lr, rate, eta, extra] = fields;
  const sets = [[step, loss, lr, rate, eta, extra], [step, loss, lr, rate, eta], [step, loss, rate, eta], [step, loss, eta]]
    .map((set) => set.filter((x): x is string => !!x).join('  '));
  for (const text of sets) {
    const width = Math.min(24, budget - text.length - 3);
    if (width >= 8) {
      const done = Math.round(pct * width);
      return `[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${text}`;
    }
    if (text.length <= budget) return text;
  }
  return sets.at(-1)!.slice(0, Math.max(0, budget));
}

export class Progress {
  private readonly tty: boolean;
  private lastLen = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, private readonly every = 10) {
    this.tty = stream.isTTY === true;
  }

  update(f: ProgressFields): void {
    const pct = f.total > 0 ? f.step / f.total : 0;
    const fields = [`step ${f.step}/${f.total}`, `loss ${f.loss.toFixed(5)}`, `lr ${f.lr.toExponential(2)}`,
      `${f.imgsPerSec.toFixed(1)} img/s${f.mfu === undefined ? '' : ` MFU ${(100 * f.mfu).toFixed(1)}%`}`, `ETA ${fmtTime(f.etaSec)}`, f.extra ?? ''];
    if (this.tty) {
      // read the width at every redraw: the terminal may have been resized
      const line = fitLine(fields, pct, lineBudget(this.stream));
      this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastLen - line.length))}`);
      this.lastLen = line.length;
    } else if (f.step % this.every === 0 || f.step === f.total || f.step === 1) {
      this.stream.write(`${fields.filter(Boolean).join('  ')}\n`);
    }
  }

  /** Print a message on its own line without breaking the bar. */
  log(message: string): void {
    if (this.tty && this.lastLen) {
      this.stream.write(`\r${' '.repeat(this.lastLen)}\r`);
      this.lastLen = 0;
    }
    this.stream.write(`${message}\n`);
  }

  done(): void {
    if (this.tty && this.lastLen) this.stream.write('\n');
    this.lastLen = 0;
  }
}
