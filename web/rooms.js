// Per-room state the page keeps across reconnects: the last seq seen (so a
// re-join asks for `since: lastSeq` and nothing retained is missed), the
// messages by seq (so a replayed or repeated seq is dropped), what was
// lost while away (PROTOCOL.md section 7), notes about the room (arrivals,
// departures, losses) in its timeline, and the room's optional passphrase
// key. No DOM here, so it is testable in Node. The rules match
// palisade::client::Resume in src/client/resume.rs.

// Notes a room keeps in its timeline; older ones are dropped.
export const MAX_NOTES = 50;

const max = (a, b) => (a > b ? a : b);
const min = (a, b) => (a < b ? a : b);

export class Room {
  constructor(name) {
    this.name = name;
    this.lastSeq = 0n; // the room's position as we know it (0n: not joined yet)
    this.wasJoined = false; // a Joined came once: a later Join resumes
    this.messages = new Map(); // seq (string) -> entry, in arrival order
    this.notes = []; // { afterSeq, order, text, kind }: timeline notes
    this.order = 0; // keeps notes after the same seq in arrival order
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
   * Takes a Message frame. Returns null when seq <= lastSeq (a replay
   * overlapping what we have, or a duplicate) and it is dropped; else
   * { entry, lost }, where lost is null or [from, to], the seqs before
   * this one that never came.
   */
  accept(frame) {
    if (frame.seq <= this.lastSeq) return null;
    const lost = this.wasJoined && frame.seq > this.lastSeq + 1n ? [this.lastSeq + 1n, frame.seq - 1n] : null;
    if (lost) this.note("lost", `${lostWords(lost)} never arrived here.`);
    this.lastSeq = frame.seq;
    const entry = { seq: frame.seq, from: frame.from, sentAtMs: frame.sent_at_ms, body: frame.body, shown: null };
    this.messages.set(frame.seq.toString(), entry);
    return { entry, lost };
  }

  /**
   * Takes the Joined that answers joinFrame() and says what it means:
   * { what: "fresh" } for a first join (what the room kept before is
   * history, however old), "resumed" when nothing was lost, "lost" with
   * lost = [from, to] when the room no longer keeps the seqs after the
   * last seen, "reset" when the room's seqs are below what we saw (its
   * history restarted on a server that predates section 7) and what we
   * hold is stale.
   */
  onJoined(frame) {
    const since = this.lastSeq;
    const next = max(frame.first_seq, 1n);
    const resume = this.wasJoined;
    this.joined = true;
    this.wasJoined = true;
    if (!resume) {
      // Replay starts after the later of `since` and what the room no
      // longer keeps, never after its last seq (new ones would be repeats).
      this.lastSeq = min(max(since, next - 1n), frame.last_seq);
      return { what: "fresh" };
    }
    if (since > frame.last_seq) {
      this.messages.clear();
      this.notes = [];
      this.lastSeq = frame.last_seq;
      this.note("lost", "The history of this room restarted on the server; older messages were cleared here.");
      return { what: "reset" };
    }
    if (next > since + 1n) {
      const lost = [since + 1n, next - 1n];
      this.note("lost", `Back after a lost connection; ${lostWords(lost)} sent meanwhile ${lost[0] === lost[1] ? "is" : "are"} no longer kept by the server.`);
      this.lastSeq = next - 1n;
      return { what: "lost", lost };
    }
    return { what: "resumed" };
  }

  /**
   * Adds a note to the timeline, after the newest message so far. `user`
   * (peer-controlled) is shown isolated before `text`.
   */
  note(kind, text, user = null) {
    this.notes.push({ afterSeq: this.lastSeq, order: this.order++, kind, text, user });
    if (this.notes.length > MAX_NOTES) this.notes.shift();
  }

  /** Removes a deleted message; returns whether we had it. */
  remove(seq) {
    return this.messages.delete(seq.toString());
  }

  /** The messages, oldest first. */
  list() {
    return [...this.messages.values()].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  }

  /**
   * The timeline: messages by seq, each note after the messages up to the
   * seq that was newest when it was made. Items are { message } or { note }.
   */
  timeline() {
    const out = [];
    let n = 0;
    const notes = this.notes;
    for (const entry of this.list()) {
      while (n < notes.length && notes[n].afterSeq < entry.seq) out.push({ note: notes[n++] });
      out.push({ message: entry });
    }
    while (n < notes.length) out.push({ note: notes[n++] });
    return out;
  }
}

/** "3 messages" / "1 message" for a lost range [from, to]. */
export function lostWords([from, to]) {
  const count = to - from + 1n;
  const what = count === 1n ? "1 message" : `${count} messages`;
  return count === 1n ? `${what} (#${from})` : `${what} (#${from} to #${to})`;
}
