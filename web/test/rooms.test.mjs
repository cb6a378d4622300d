// The page's reconnect rules and per-room bookkeeping, without a browser.
// Run: node --test web/test/
import { test } from "node:test";
import assert from "node:assert/strict";

import { Room } from "../rooms.js";
import { backoffMs, describeClose, describeError, shouldReconnect } from "../words.js";
import { ERROR_CODES } from "../codec.js";

const msg = (seq, text = `m${seq}`) => ({
  type: "Message", room: "lobby", seq, from: "alice", sent_at_ms: 1n, body: { type: "Text", text },
});

test("a room re-joins from the last seq it saw and drops repeats", () => {
  const room = new Room("lobby");
  assert.deepEqual(room.joinFrame(), { type: "Join", room: "lobby", since: 0n });
  assert.ok(room.accept(msg(1n)));
  assert.ok(room.accept(msg(2n)));
  assert.equal(room.accept(msg(2n)), null, "duplicate");
  assert.equal(room.accept(msg(1n)), null, "older");
  assert.deepEqual(room.joinFrame(), { type: "Join", room: "lobby", since: 2n });
  assert.ok(room.accept(msg(5n)));
  assert.deepEqual(room.list().map((e) => e.seq), [1n, 2n, 5n]);
  assert.ok(room.remove(2n));
  assert.ok(!room.remove(2n));
  assert.deepEqual(room.list().map((e) => e.seq), [1n, 5n]);
});

test("Joined tells a gap and a restarted history apart", () => {
  const room = new Room("lobby");
  assert.equal(room.onJoined({ first_seq: 0n, last_seq: 0n }), "ok");
  room.accept(msg(3n));
  assert.equal(room.onJoined({ first_seq: 2n, last_seq: 9n }), "ok");
  assert.equal(room.onJoined({ first_seq: 5n, last_seq: 9n }), "gap");
  assert.equal(room.onJoined({ first_seq: 1n, last_seq: 1n }), "reset");
  assert.equal(room.lastSeq, 0n);
  assert.equal(room.list().length, 0);
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
