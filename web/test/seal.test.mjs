// Checks web/seal.js against tests/vectors/seal.json, which ring sealed
// (tests/vectors.rs): the browser must open what Rust clients seal and seal
// the same bytes. Run: node --test web/test/  (Node 20+: globalThis.crypto)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  ITERATIONS, OVERHEAD, SealError, deriveRoomKey, open, openText, seal, sealWithNonce,
} from "../seal.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../tests/vectors/seal.json", import.meta.url), "utf8"),
);
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const kindIs = (kind) => (e) => e instanceof SealError && e.kind === kind;

test("the iteration count is the contract's", () => {
  assert.equal(ITERATIONS, vectors.iterations);
  assert.equal(ITERATIONS, 600000);
});

for (const v of vectors.entries) {
  test(`Rust and WebCrypto agree: ${v.name}`, async () => {
    const key = await deriveRoomKey(v.passphrase, v.room);
    const sealed = fromHex(v.sealed);
    assert.equal(await openText(key, v.room, v.from, sealed), v.plaintext);
    assert.equal(toHex(await sealWithNonce(key, v.room, v.from, fromHex(v.nonce), v.plaintext)), v.sealed);
    // Another sender, another room, a changed byte: all refuse to open.
    await assert.rejects(open(key, v.room, `${v.from}x`, sealed), kindIs("Forged"));
    await assert.rejects(open(key, `${v.room}x`.slice(-32), v.from, sealed), kindIs("Forged"));
    const flipped = sealed.slice();
    flipped[flipped.length - 1] ^= 1;
    await assert.rejects(open(key, v.room, v.from, flipped), kindIs("Forged"));
  });
}

test("a wrong passphrase cannot open, short and unknown versions are refused", async () => {
  const v = vectors.entries[0];
  const wrong = await deriveRoomKey(`${v.passphrase}!`, v.room);
  await assert.rejects(open(wrong, v.room, v.from, fromHex(v.sealed)), kindIs("Forged"));
  const key = await deriveRoomKey(v.passphrase, v.room);
  await assert.rejects(open(key, v.room, v.from, new Uint8Array(OVERHEAD - 1).fill(1)), kindIs("TooShort"));
  const v2 = fromHex(v.sealed);
  v2[0] = 2;
  await assert.rejects(open(key, v.room, v.from, v2), kindIs("UnknownVersion"));
});

test("random nonces differ and round-trip; non-UTF-8 plaintext is NotText", async () => {
  const key = await deriveRoomKey("pw", "lobby");
  const a = await seal(key, "lobby", "alice", "same");
  const b = await seal(key, "lobby", "alice", "same");
  assert.notEqual(toHex(a.subarray(1, 13)), toHex(b.subarray(1, 13)));
  assert.equal(await openText(key, "lobby", "alice", a), "same");
  const binary = await seal(key, "lobby", "alice", Uint8Array.of(0xff));
  assert.deepEqual(await open(key, "lobby", "alice", binary), Uint8Array.of(0xff));
  await assert.rejects(openText(key, "lobby", "alice", binary), kindIs("NotText"));
});
