// The page's PublishOnce bookkeeping: keys kept until the Ack and resent
// unchanged. Run: node --test web/test/
import { test } from "node:test";
import assert from "node:assert/strict";

import { MAX_UNACKED, Outbox, randomKey } from "../outbox.js";
import { decodeClient, encodeClient } from "../codec.js";

const text = (t) => ({ type: "Text", text: t });

function counter() {
  let n = 0;
  return () => ++n;
}

test("keys are random u64 BigInts, the full range encodable", () => {
  const keys = new Set(Array.from({ length: 64 }, randomKey));
  assert.equal(keys.size, 64);
  for (const k of keys) assert.ok(typeof k === "bigint" && k >= 0n && k <= 0xffffffffffffffffn);
  const out = new Outbox(counter(), () => 0xffffffffffffffffn);
  const frame = out.publish("lobby", text("hi"));
  assert.deepEqual(decodeClient(encodeClient(frame)), frame, "u64::MAX survives the codec");
});

test("a key is kept until its Ack and sent again unchanged after a reconnect", () => {
  let k = 10n;
  const out = new Outbox(counter(), () => k++);
  const a = out.publish("lobby", text("one"));
  const b = out.publish("ops", text("two"));
  assert.deepEqual(a, { type: "PublishOnce", id: 1, key: 10n, room: "lobby", body: text("one") });
  assert.equal(b.key, 11n);
  assert.deepEqual(out.resend(), [a, b], "oldest first, same ids and keys");
  assert.deepEqual(out.acked(1).key, 10n);
  assert.equal(out.acked(1), undefined, "a second Ack of one id is nothing");
  assert.deepEqual(out.resend(), [b]);
  out.acked(2);
  assert.equal(out.size, 0);
});

test("Unavailable keeps a publish for one more try; other refusals drop it", () => {
  const out = new Outbox(counter(), () => 7n);
  const a = out.publish("lobby", text("one"));
  assert.deepEqual(out.refused(a.id, "Unavailable"), { kept: true, room: "lobby" });
  assert.deepEqual(out.stalled(), [a]);
  assert.deepEqual(out.stalled(), [], "sent again once per refusal");
  assert.deepEqual(out.refused(a.id, "Forbidden"), { kept: false, room: "lobby" });
  assert.equal(out.refused(a.id, "Forbidden"), null);
  assert.equal(out.has(a.id), false);
});

test("leaving a room forgets its publishes, and the outbox is bounded", () => {
  const out = new Outbox(counter());
  out.publish("lobby", text("a"));
  out.publish("ops", text("b"));
  out.forget("lobby");
  assert.deepEqual(out.resend().map((f) => f.room), ["ops"]);
  while (out.size < MAX_UNACKED) assert.ok(out.publish("ops", text("x")));
  assert.equal(out.publish("ops", text("one too many")), null);
});
