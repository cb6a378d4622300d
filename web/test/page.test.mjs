// The page's pure parts: the member list, the token's exact rooms, and
// what a typed message becomes. Run: node --test web/test/
import { test } from "node:test";
import assert from "node:assert/strict";

import { MemberList } from "../members.js";
import { exactRooms } from "../token.js";
import { outgoingText, sendsOnKey } from "../words.js";

test("the member list follows Members, MemberJoined and MemberLeft", () => {
  const m = new MemberList();
  assert.equal(m.known("lobby"), false);
  m.add("lobby", "zed"); // before the full list: ignored, not guessed
  assert.deepEqual(m.of("lobby"), []);
  m.set("lobby", ["alice", "bob"], 300);
  assert.equal(m.known("lobby"), true);
  assert.deepEqual(m.of("lobby"), ["alice", "bob"]);
  assert.equal(m.total("lobby"), 300);
  m.add("lobby", "carol");
  m.add("lobby", "bob"); // already there (an event crossing the list): once
  assert.deepEqual(m.of("lobby"), ["alice", "bob", "carol"]);
  assert.equal(m.total("lobby"), 301);
  m.remove("lobby", "bob");
  m.remove("lobby", "nobody");
  assert.deepEqual(m.of("lobby"), ["alice", "carol"]);
  assert.equal(m.total("lobby"), 300);
  m.forget("lobby");
  assert.equal(m.known("lobby"), false);
});

function token(claims) {
  const payload = Buffer.concat([Buffer.from(JSON.stringify(claims)), Buffer.alloc(64, 7)]);
  return `v4.public.${payload.toString("base64url")}`;
}

test("the rooms a token names exactly, patterns and junk skipped", () => {
  const t = token({ sub: "alice", rooms: ["lobby", "team-*", "*", "Kitchen", "ops", "lobby", 5] });
  assert.deepEqual(exactRooms(t), ["lobby", "ops"]);
  assert.deepEqual(exactRooms(token({ sub: "alice" })), []);
  assert.deepEqual(exactRooms("v4.public.!!!"), []);
  assert.deepEqual(exactRooms("v4.local.abc"), []);
  assert.deepEqual(exactRooms("nonsense"), []);
});

test("a typed message loses its trailing newlines and keeps inner ones", () => {
  assert.deepEqual(outgoingText("hello\n"), { text: "hello" });
  assert.deepEqual(outgoingText("a\r\nb\r\n\n"), { text: "a\nb" });
  assert.deepEqual(outgoingText("\n"), { text: "" });
  assert.deepEqual(outgoingText("tab\there"), { text: "tab\there" });
  assert.match(outgoingText("bell\u0007").error, /control characters/);
});

test("Enter sends, Shift+Enter and IME composition do not", () => {
  assert.equal(sendsOnKey({ key: "Enter" }), true);
  assert.equal(sendsOnKey({ key: "Enter", shiftKey: true }), false);
  assert.equal(sendsOnKey({ key: "Enter", isComposing: true }), false);
  assert.equal(sendsOnKey({ key: "a" }), false);
});
