// The page's reconnect rules and per-room bookkeeping, without a browser.
// Run: node --test web/test/
import { test } from "node:test";
import assert from "node:assert/strict";

import { MAX_NOTES, Room } from "../rooms.js";
import { backoffMs, describeClose, describeError, shouldReconnect } from "../words.js";
import { ERROR_CODES } from "../codec.js";

const msg = (seq, text = `m${seq}`) => ({
  type: "Message", room: "lobby", seq, from: "alice", sent_at_ms: 1n, body: { type: "Text", text },
});

test("a room re-joins from the last seq it saw and drops repeats", () => {
  const room = new Room("lobby");
  assert.deepEqual(room.joinFrame(), { type: "Join", room: "lobby", since: 0n });
  assert.deepEqual(room.onJoined({ first_seq: 1n, last_seq: 0n }), { what: "fresh" });
  assert.ok(room.accept(msg(1n)));
  assert.ok(room.accept(msg(2n)));
  assert.equal(room.accept(msg(2n)), null, "duplicate");
  assert.equal(room.accept(msg(1n)), null, "older");
  assert.deepEqual(room.joinFrame(), { type: "Join", room: "lobby", since: 2n });
  assert.deepEqual(room.accept(msg(5n)).lost, [3n, 4n], "a seq jump is a gap");
  assert.deepEqual(room.list().map((e) => e.seq), [1n, 2n, 5n]);
  assert.ok(room.remove(2n));
  assert.ok(!room.remove(2n));
  assert.deepEqual(room.list().map((e) => e.seq), [1n, 5n]);
});

test("a first join takes what the room kept as history, not as a loss", () => {
  // A room with a clock-based seq (PROTOCOL.md section 7) keeping nothing.
  const base = 1700000000000n << 10n;
  const room = new Room("lobby");
  assert.deepEqual(room.onJoined({ first_seq: base, last_seq: base - 1n }), { what: "fresh" });
  assert.deepEqual(room.accept(msg(base)).lost, null);
  // One keeping 40..50: the replay starts at 40, no gap reported.
  const kept = new Room("ops");
  kept.onJoined({ first_seq: 40n, last_seq: 50n });
  assert.equal(kept.accept(msg(40n)).lost, null);
  // A Join after a seq the room never reached still sees new messages.
  const ahead = new Room("ahead");
  ahead.lastSeq = 500n;
  ahead.onJoined({ first_seq: 1n, last_seq: 10n });
  assert.equal(ahead.accept(msg(11n)).lost, null);
  assert.equal(kept.notes.length + room.notes.length + ahead.notes.length, 0);
});

test("a resumed Joined tells nothing lost, a loss and a restarted history apart", () => {
  const room = new Room("lobby");
  room.onJoined({ first_seq: 1n, last_seq: 0n });
  room.accept(msg(1n));
  room.accept(msg(2n));
  room.accept(msg(3n));
  room.joined = false; // the connection closed
  assert.deepEqual(room.joinFrame().since, 3n);
  assert.deepEqual(room.onJoined({ first_seq: 2n, last_seq: 9n }), { what: "resumed" });
  assert.equal(room.accept(msg(4n)).lost, null);
  // Away from 4 on; the room now keeps 8..9: 5 to 7 are lost, noted once.
  assert.deepEqual(room.onJoined({ first_seq: 8n, last_seq: 9n }), { what: "lost", lost: [5n, 7n] });
  assert.equal(room.accept(msg(8n)).lost, null, "the replay is not a second gap");
  assert.deepEqual(room.notes.map((n) => [n.kind, n.afterSeq]), [["lost", 4n]]);
  assert.match(room.notes[0].text, /3 messages \(#5 to #7\)/);
  // A server without storage restarted: the next seq is far above.
  assert.deepEqual(room.onJoined({ first_seq: 1000n, last_seq: 999n }).lost, [9n, 999n]);
  assert.equal(room.accept(msg(1000n)).lost, null);
  // A server that predates the clock base: seqs below what we saw.
  assert.deepEqual(room.onJoined({ first_seq: 1n, last_seq: 1n }), { what: "reset" });
  assert.equal(room.lastSeq, 1n);
  assert.equal(room.list().length, 0);
  assert.ok(room.accept(msg(2n)), "its new seq 2 is new, not a repeat");
});

test("the timeline puts notes after the messages they followed", () => {
  const room = new Room("lobby");
  room.onJoined({ first_seq: 1n, last_seq: 0n });
  room.note("arrival", "joined the room.", "bob");
  room.accept(msg(1n));
  room.note("departure", "left the room.", "bob");
  room.accept(msg(3n)); // notes the gap before itself
  const shown = room.timeline().map((i) => (i.message ? `m${i.message.seq}` : `${i.note.kind}:${i.note.user ?? ""}`));
  assert.deepEqual(shown, ["arrival:bob", "m1", "departure:bob", "lost:", "m3"]);
  assert.match(room.notes.at(-1).text, /^1 message \(#2\) never arrived/);
  for (let i = 0; i < MAX_NOTES + 5; i++) room.note("arrival", "joined the room.", `u${i}`);
  assert.equal(room.notes.length, MAX_NOTES);
  assert.equal(room.notes.at(-1).user, `u${MAX_NOTES + 4}`);
});

test("reconnect only when a new connection could succeed", () => {
  for (const code of [4001, 4003, 1008, 1000]) assert.equal(shouldReconnect(code), false, String(code));
  for (const code of [1001, 1006, 1011, 4009, 4010]) assert.equal(shouldReconnect(code), true, String(code));
});

test("backoff doubles from 1 s to 30 s with jitter in the upper half", () => {
  const low = (a) => backoffMs(a, () => 0);
  const high = (a) => backoffMs(a, () => 1);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 40].map(high), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.deepEqual([0, 1, 5].map(low), [500, 1000, 15000]);
});

test("every error code and close code has its own sentence", () => {
  const sentences = new Set(ERROR_CODES.map(describeError));
  assert.equal(sentences.size, ERROR_CODES.length);
  for (const s of sentences) assert.doesNotMatch(s, /refused the request \(/);
  const codes = [1000, 1001, 1003, 1007, 1008, 1009, 1011, 4001, 4003, 4009, 4010];
  const closes = new Set(codes.map(describeClose));
  assert.equal(closes.size, codes.length);
  for (const s of closes) assert.doesNotMatch(s, /closed with code/);
  assert.match(describeClose(4001), /expired/);
  assert.match(describeClose(4242), /4242/);
});
