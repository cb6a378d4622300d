// Per-room state the page keeps across reconnects: the last seq seen (so a
// re-join asks for `since: lastSeq` and nothing retained is missed), the
// messages by seq (so a replayed or repeated seq is dropped), and the
// room's optional passphrase key. No DOM here, so it is testable in Node.

export class Room {
  constructor(name) {
    this.name = name;
    this.lastSeq = 0n; // highest seq seen; 0 means none yet
    this.messages = new Map(); // seq (string) -> entry, in arrival order
    this.joined = false;
    this.key = null; // Promise<CryptoKey> while a passphrase is set
    this.keyGeneration = 0; // bumped on every passphrase change
    this.unread = 0; // messages accepted while another room was shown
  }

  /** The Join to send now: replay only what came after the last seen seq. */
  joinFrame() {
    return { type: "Join", room: this.name, since: this.lastSeq };
  }

  /**
   * Takes a Message frame; returns its entry, or null when seq <= lastSeq
   * (a replay overlapping what we have, or a duplicate) and it is dropped.
   */
  accept(frame) {
    if (frame.seq <= this.lastSeq) return null;
    this.lastSeq = frame.seq;
    const entry = { seq: frame.seq, from: frame.from, sentAtMs: frame.sent_at_ms, body: frame.body, shown: null };
    this.messages.set(frame.seq.toString(), entry);
    return entry;
  }

  /**
   * Takes a Joined frame and says what it means for our history: "gap" when
   * messages after lastSeq were no longer retained, "reset" when the room
   * restarted its seqs (server restart) and what we hold is stale.
   */
  onJoined(frame) {
    this.joined = true;
    if (this.lastSeq > 0n && frame.last_seq < this.lastSeq) {
      this.messages.clear();
      this.lastSeq = 0n;
      return "reset";
    }
    if (this.lastSeq > 0n && frame.first_seq > this.lastSeq + 1n) return "gap";
    return "ok";
  }

  /** Removes a deleted message; returns whether we had it. */
  remove(seq) {
    return this.messages.delete(seq.toString());
  }

  /** The messages, oldest first. */
  list() {
    return [...this.messages.values()].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  }
}
