// The message list's follow-the-end rule, with a fake list (no browser).
// Run: node --test web/test/
import { test } from "node:test";
import assert from "node:assert/strict";

globalThis.window ??= new EventTarget();
const { Follower } = await import("../view.js");

/** A list of `height` px of content in a 100 px window; the scroll event
 * fires only when `flush` is called, a frame later, as in a browser. */
function fakeList(height) {
  const list = new EventTarget();
  list.clientHeight = 100;
  list.scrollHeight = height;
  let top = 0;
  let pending = false;
  Object.defineProperty(list, "scrollTop", {
    get: () => top,
    set: (v) => { top = Math.max(0, Math.min(v, list.scrollHeight - list.clientHeight)); pending = true; },
  });
  list.replaceChildren = () => { list.scrollHeight += 50; };
  list.flush = () => { if (pending) { pending = false; list.dispatchEvent(new Event("scroll")); } };
  return list;
}

const marker = () => Object.assign(new EventTarget(), { hidden: true });

test("a reader at the end follows new items", () => {
  const list = fakeList(500);
  const follower = new Follower(list, marker());
  follower.toEnd();
  list.flush();
  follower.replace([], "new");
  assert.equal(list.scrollTop, list.scrollHeight - list.clientHeight);
  assert.equal(follower.marker.hidden, true);
});

test("a reader who scrolled up stays put even before the scroll event fires", () => {
  const list = fakeList(500);
  const follower = new Follower(list, marker());
  follower.toEnd();
  list.flush();
  list.scrollTop = 0; // the reader scrolls up; the event is still pending
  follower.replace([], "new");
  assert.equal(list.scrollTop, 0, "the page scrolled away");
  assert.equal(follower.marker.hidden, false);
  list.flush();
  follower.replace([], "new");
  assert.equal(list.scrollTop, 0);
});
