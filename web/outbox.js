// Publishing so that a retry lands once (PROTOCOL.md section 4,
// PublishOnce): every message gets a random 64-bit key (a BigInt, as
// codec.js writes u64), kept with the message until its Ack, and sent
// again with the same key after a reconnect or an Error{Unavailable}. The
// server answers a key it already accepted with the first Ack and
// publishes nothing, so a message whose Ack was lost is not doubled.
// State only, no DOM: the rules match palisade::client::Outbox.

// Publishes that may wait for their Ack at once.
export const MAX_UNACKED = 256;

/** A random u64 as a BigInt, from WebCrypto. */
export function randomKey() {
  return crypto.getRandomValues(new BigUint64Array(1))[0];
}

export class Outbox {
  /** `nextId()` gives correlation ids (the page shares them with Delete). */
  constructor(nextId, random = randomKey) {
    this.nextId = nextId;
    this.random = random;
    this.waiting = new Map(); // id -> { key, room, body, stalled }, oldest first
  }

  /**
   * Queues `body` for `room` under a fresh key; returns the PublishOnce to
   * send, or null when MAX_UNACKED already wait (nothing queued).
   */
  publish(room, body) {
    if (this.waiting.size >= MAX_UNACKED) return null;
    const id = this.nextId();
    const entry = { key: this.random(), room, body, stalled: false };
    this.waiting.set(id, entry);
    return frameOf(id, entry);
  }

  /** The Ack for `id` came: returns the publish it ends, or undefined. */
  acked(id) {
    const entry = this.waiting.get(id);
    this.waiting.delete(id);
    return entry;
  }

  /**
   * An Error with `id` came: { kept: true, room } for Unavailable (it goes
   * again with the same key via stalled() or resend()), { kept: false,
   * room } when refused for good (dropped), or null when `id` is not a
   * waiting publish.
   */
  refused(id, code) {
    const entry = this.waiting.get(id);
    if (!entry) return null;
    if (code === "Unavailable") {
      entry.stalled = true;
      return { kept: true, room: entry.room };
    }
    this.waiting.delete(id);
    return { kept: false, room: entry.room };
  }

  /** The publishes refused with Unavailable since the last call, to send again. */
  stalled() {
    const out = [];
    for (const [id, entry] of this.waiting) {
      if (!entry.stalled) continue;
      entry.stalled = false;
      out.push(frameOf(id, entry));
    }
    return out;
  }

  /** Every waiting publish, oldest first, for a new connection (after its Joins). */
  resend() {
    return [...this.waiting].map(([id, entry]) => {
      entry.stalled = false;
      return frameOf(id, entry);
    });
  }

  /** Whether `id` is a waiting publish. */
  has(id) {
    return this.waiting.has(id);
  }

  /** Forgets the publishes to `room` (we left it: they cannot land). */
  forget(room) {
    for (const [id, entry] of this.waiting) if (entry.room === room) this.waiting.delete(id);
  }

  get size() {
    return this.waiting.size;
  }
}

function frameOf(id, { key, room, body }) {
  return { type: "PublishOnce", id, key, room, body };
}
