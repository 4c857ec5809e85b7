/**
 * Running totals the services keep for operators (read by the metrics endpoint). Plain numbers:
 * an addition on the hot path, nothing more; the domain knows nothing of Prometheus.
 */
export class Counters {
  datapointsInserted = 0;
  datapointsRead = 0;
  failedLogins = 0;
  /** Called with the size of every stored insert batch when someone listens (metrics on). */
  onInsertBatch: ((n: number) => void) | null = null;

  insertBatch(n: number): void {
    this.datapointsInserted += n;
    if (this.onInsertBatch) this.onInsertBatch(n);
  }
}
