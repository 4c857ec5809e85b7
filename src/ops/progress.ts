/**
 * Progress of long exports/imports/backups: a single updating line on a terminal, a line every few
 * seconds otherwise (so logs of a container show it is alive), nothing when quiet.
 */
export interface ProgressSink {
  /** `done`/`total` in the unit (total 0 = unknown); `what` says what is being worked on. */
  update(what: string, done: number, total: number): void;
  /** Permanent message line. */
  info(msg: string): void;
  end(msg?: string): void;
}

export const silentProgress: ProgressSink = { update() {}, info() {}, end() {} };

const fmt = (n: number, unit: string): string => {
  if (unit === 'bytes') {
    if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
    if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
    if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
    return `${n} B`;
  }
  return `${n.toLocaleString('en-US')} ${unit}`;
};

export class TerminalProgress implements ProgressSink {
  private last = 0;
  private lineOpen = false;
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly unit: string,
    private readonly label: string,
  ) {
    this.tty = !!out.isTTY;
  }

  update(what: string, done: number, total: number): void {
    const now = Date.now();
    const every = this.tty ? 100 : 5000;
    if (now - this.last < every && done !== total) return;
    this.last = now;
    const pct = total > 0 ? ` ${Math.min(100, Math.floor((done / total) * 100))}%` : '';
    const amount = total > 0 ? `${fmt(done, this.unit)} / ${fmt(total, this.unit)}` : fmt(done, this.unit);
    const line = `${this.label}${pct} ${amount}  ${what}`;
    if (this.tty) {
      const width = (this.out.columns || 100) - 1;
      this.out.write(`\r${line.length > width ? line.slice(0, width) : line.padEnd(width)}`);
      this.lineOpen = true;
    } else this.out.write(`${line}\n`);
  }

  info(msg: string): void {
    this.closeLine();
    this.out.write(`${msg}\n`);
  }

  end(msg?: string): void {
    this.closeLine();
    if (msg) this.out.write(`${msg}\n`);
  }

  private closeLine(): void {
    if (this.lineOpen) {
      this.out.write('\n');
      this.lineOpen = false;
    }
  }
}
