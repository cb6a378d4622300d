// Checks web/codec.js against tests/vectors/frames.json, which the Rust
// code generates (tests/vectors.rs): the browser and the server must read
// and write the same bytes. Run: node --test web/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  CodecError, decodeClient, decodeServer, encodeClient, encodeServer, isRoomName, isUserName,
} from "../codec.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../tests/vectors/frames.json", import.meta.url), "utf8"),
);

const U64_FIELDS = new Set(["session", "expires_at", "since", "seq", "first_seq", "last_seq", "sent_at_ms", "key"]);

export const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

// The vector file's JSON form to the codec's: u64 strings become BigInt,
// hex byte strings become Uint8Array.
function fromJson(frame) {
  const out = {};
  for (const [key, value] of Object.entries(frame)) {
    if (U64_FIELDS.has(key) && typeof value === "string") out[key] = BigInt(value);
    else if (key === "body" && value.type === "Sealed") out[key] = { type: "Sealed", bytes: fromHex(value.hex) };
    else out[key] = value;
  }
  return out;
}

const codec = {
  client: { decode: decodeClient, encode: encodeClient },
  server: { decode: decodeServer, encode: encodeServer },
};

test("the vector file covers every variant", () => {
  const types = new Set(vectors.frames.map((v) => `${v.direction}:${v.frame.type}`));
  for (const t of ["Join", "Leave", "Publish", "Delete", "Reauth", "Presence", "PublishOnce"]) {
    assert.ok(types.has(`client:${t}`), t);
  }
  for (const t of ["Welcome", "Joined", "Left", "Message", "Ack", "Deleted", "Error",
    "Members", "MemberJoined", "MemberLeft"]) {
    assert.ok(types.has(`server:${t}`), t);
  }
  const codes = new Set(vectors.frames.filter((v) => v.frame.type === "Error").map((v) => v.frame.code));
  assert.equal(codes.size, 8);
  const roles = new Set(vectors.frames.filter((v) => v.frame.type === "Welcome").map((v) => v.frame.role));
  assert.equal(roles.size, 3);
});

for (const v of vectors.frames) {
  test(`decode ${v.direction}: ${v.name}`, () => {
    assert.deepEqual(codec[v.direction].decode(fromHex(v.hex)), fromJson(v.frame));
  });
  test(`encode ${v.direction}: ${v.name}`, () => {
    assert.equal(toHex(codec[v.direction].encode(fromJson(v.frame))), v.hex);
  });
}

for (const v of vectors.decode_only) {
  test(`decode only ${v.direction}: ${v.name}`, () => {
    const frame = codec[v.direction].decode(fromHex(v.hex));
    assert.deepEqual(frame, fromJson(v.frame));
    assert.equal(toHex(codec[v.direction].encode(frame)), v.canonical_hex);
  });
}

for (const v of vectors.invalid) {
  test(`refuse ${v.direction}: ${v.name}`, () => {
    assert.throws(
      () => codec[v.direction].decode(fromHex(v.hex)),
      (e) => e instanceof CodecError && e.kind === v.error,
      `${v.reason}: expected ${v.error}`,
    );
  });
}

test("decoders take an ArrayBuffer, as WebSocket delivers it", () => {
  const bytes = fromHex("040702"); // Ack { id: 7, seq: 2 }
  assert.deepEqual(decodeServer(bytes.buffer), { type: "Ack", id: 7, seq: 2n });
});

test("the encoder refuses what the server would close on", () => {
  const bad = [
    { type: "Leave", room: "Lobby" },
    { type: "Leave", room: "x".repeat(33) },
    { type: "Join", room: "a", since: -1n },
    { type: "Join", room: "a", since: 2n ** 64n },
    { type: "Publish", id: 2 ** 32, room: "a", body: { type: "Text", text: "x" } },
    { type: "Publish", id: 1.5, room: "a", body: { type: "Text", text: "x" } },
    { type: "Publish", id: 1, room: "a", body: { type: "Text", text: "\uD800" } },
    { type: "Publish", id: 1, room: "a", body: { type: "Html", text: "x" } },
    { type: "Delete", id: 1, room: "a", seq: "3" },
    { type: "PublishOnce", id: 1, key: 2n ** 64n, room: "a", body: { type: "Text", text: "x" } },
    { type: "Presence", room: "" },
    { type: "Shout" },
  ];
  const show = (f) => JSON.stringify(f, (k, v) => (typeof v === "bigint" ? `${v}n` : v));
  for (const frame of bad) {
    assert.throws(() => encodeClient(frame), (e) => e instanceof TypeError || e instanceof RangeError, show(frame));
  }
});

test("room names", () => {
  for (const ok of ["a", "0", "team-1", "a.b_c-d", "x".repeat(32)]) assert.ok(isRoomName(ok), ok);
  for (const no of ["", "-a", ".a", "aB", "a b", "a*", "é", "x".repeat(33), 7, null]) assert.ok(!isRoomName(no), String(no));
});

test("the encoder refuses member lists a decoder would refuse", () => {
  const members = (users) => ({ type: "Members", room: "a", total: users.length, users });
  const bad = [
    ["b", "a"], ["a", "a"], ["🦀", "\uff21"], [""], ["a\u0085"], ["x".repeat(65)],
    Array.from({ length: 257 }, (_, i) => `u${String(i).padStart(3, "0")}`),
  ];
  for (const users of bad) assert.throws(() => encodeServer(members(users)), TypeError, JSON.stringify(users));
  assert.throws(() => encodeServer({ type: "MemberLeft", room: "a", user: "\uD800" }), TypeError);
});

test("user names", () => {
  for (const ok of ["a", "Zoë 🦀", "\ufeffeve", "é".repeat(32)]) assert.ok(isUserName(ok), ok);
  for (const no of ["", "a\n", "a\u007f", "a\u0085", "é".repeat(33), "\uDC00", 7, null]) {
    assert.ok(!isUserName(no), JSON.stringify(no));
  }
});
