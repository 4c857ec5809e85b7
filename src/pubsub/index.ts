import type { Datapoint } from '../pipescript/datapoint';

/** One insert batch as published: the path of the (sub)stream and what was stored. */
export interface PublishedBatch {
  /** `user/device/stream` or `user/device/stream/downlink` */
  stream: string;
  data: Datapoint[];
}

export type Listener = (batch: PublishedBatch) => void;

/**
 * The live-data bus between the insert path and the websocket layer. In-process now; the interface
 * is small so a networked bus (NATS, Redis) can replace it to run several server processes.
 */
export interface PubSub {
  publish(batch: PublishedBatch): void;
  /** Returns the unsubscribe function. */
  subscribe(stream: string, listener: Listener): () => void;
  /** Number of listeners on a path (lets publishers skip work nobody will see). */
  listenerCount(stream: string): number;
  close(): void;
}

export class LocalPubSub implements PubSub {
  private readonly topics = new Map<string, Set<Listener>>();

  publish(batch: PublishedBatch): void {
    const set = this.topics.get(batch.stream);
    if (!set) return;
    for (const l of [...set]) {
      try {
        l(batch);
      } catch {
        // A failing subscriber must not break the insert that published.
      }
    }
  }

  subscribe(stream: string, listener: Listener): () => void {
    let set = this.topics.get(stream);
    if (!set) this.topics.set(stream, (set = new Set()));
    set.add(listener);
    return () => {
      const s = this.topics.get(stream);
      if (!s) return;
      s.delete(listener);
      if (s.size === 0) this.topics.delete(stream);
    };
  }

  listenerCount(stream: string): number {
    return this.topics.get(stream)?.size ?? 0;
  }

  close(): void {
    this.topics.clear();
  }
}
