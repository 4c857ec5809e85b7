import type { Datapoint } from '../pipescript/datapoint';

/** One insert batch as published: the path of the (sub)stream and what was stored. */
export interface PublishedBatch {
  /** `user/device/stream` or `user/device/stream/downlink` */
  stream: string;
  data: Datapoint[];
  /** Index of `data[0]` in its substream, when the publisher knows it (lets a subscriber order batches of several writer processes). */
  index?: number;
  /**
   * Id of the stream the batch was stored in, with `index`: a path deleted and created again is a
   * new stream whose indexes start at 0 again, which a subscriber must not take for old batches.
   */
  sid?: number;
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
  /**
   * Whether a publish on the path could reach anyone: the insert path skips building the batch
   * when not. In-process that is `listenerCount > 0`; on a networked bus the listeners of other
   * processes are not visible here, so it answers true (the broker drops what nobody wants).
   */
  wantsPublish(stream: string): boolean;
  /** Networked buses send what is queued and disconnect: await it before closing the storage. */
  close(): void | Promise<void>;
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

  wantsPublish(stream: string): boolean {
    return this.topics.has(stream);
  }

  close(): void {
    this.topics.clear();
  }
}
