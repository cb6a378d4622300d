// DOM helpers of the page: elements built from text only, notices that
// fade, and a message list that follows the newest message unless the
// reader scrolled up. Everything a peer controls is set with textContent.

const MAX_NOTICES = 6;

/** An element with attributes (`text` sets textContent) and children (strings become text). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(typeof c === "string" ? document.createTextNode(c) : c);
  return node;
}

/**
 * Shows a notice under the messages, newest last. `parts` are strings the
 * page wrote, or `{ peer: text }` for text someone else controls (an error
 * detail), which is isolated so its direction marks stay inside it. The
 * notice fades by CSS and is removed when the fade ends; errors stay longer.
 */
export function notice(list, kind, ...parts) {
  const item = el("li", { "data-testid": "notice", "data-kind": kind },
    el("time", { text: new Date().toLocaleTimeString() }), " ");
  for (const p of parts) item.append(typeof p === "string" ? p : el("bdi", { text: p.peer }));
  item.addEventListener("animationend", () => item.remove());
  list.append(item);
  while (list.children.length > MAX_NOTICES) list.firstChild.remove();
}

/**
 * Local time for milliseconds since the epoch (a BigInt): `text` in full,
 * `short` as a chat shows it (the time today, date and time otherwise),
 * and `iso` for a datetime attribute.
 */
export function formatMs(ms, today = new Date()) {
  // Beyond what Date can hold (a server clock gone wrong, or a forgery).
  if (ms > 8640000000000000n) return { text: "unknown time", short: "unknown time", iso: "" };
  const d = new Date(Number(ms));
  const hm = { hour: "2-digit", minute: "2-digit" };
  const short = d.toDateString() === today.toDateString()
    ? d.toLocaleTimeString([], hm)
    : d.toLocaleString([], { ...hm, day: "numeric", month: "short" });
  return { text: d.toLocaleString(), short, iso: d.toISOString() };
}

/**
 * A room's timeline note (rooms.js): an arrival, a departure or a loss,
 * as text; the user's name (peer-controlled) isolated in a bdi.
 */
export function noteItem(note) {
  const li = el("li", { "data-testid": "room-note", "data-kind": note.kind, class: "note" });
  if (note.user !== null) li.append(el("bdi", { class: "from", text: note.user }), " ");
  li.append(note.text);
  return li;
}

// How close to the end counts as "at the end" (sub-pixel rounding, zoom).
const SLACK_PX = 8;

/**
 * Keeps a scrolling list at its newest item while the reader is there,
 * and shows `marker` (a button that jumps to the end) when new items came
 * while they were reading further up.
 */
export class Follower {
  constructor(list, marker) {
    this.list = list;
    this.marker = marker;
    this.pinned = true; // the reader is at the end (as of their last scroll)
    // Where the list stood when `pinned` was last learnt. A scroll event
    // comes a frame after the scroll: a reader who scrolled up just before
    // an item arrived has left this position, though `pinned` still says
    // they are at the end.
    this.pinnedTop = list.scrollTop;
    list.addEventListener("scroll", () => {
      this.pinned = this.atEnd();
      this.pinnedTop = list.scrollTop;
      if (this.pinned) marker.hidden = true;
    });
    marker.addEventListener("click", () => this.toEnd());
    // A smaller window (a phone turned, a keyboard opening) keeps the end in view.
    window.addEventListener("resize", () => { if (this.pinned) this.toEnd(); });
  }

  atEnd() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight <= SLACK_PX;
  }

  /**
   * Replaces the items. `mode`: "end" always scrolls to the end (a room
   * was opened, or the reader sent a message), "new" follows only if the
   * reader was at the end and otherwise shows the marker, "same" keeps the
   * position (an item changed, nothing arrived).
   */
  replace(items, mode) {
    const stayed = this.list.scrollTop >= this.pinnedTop - SLACK_PX;
    const wasAtEnd = (this.pinned && stayed) || this.atEnd();
    const top = this.list.scrollTop;
    this.list.replaceChildren(...items);
    if (mode === "end" || (mode === "new" && wasAtEnd)) this.toEnd();
    else {
      this.list.scrollTop = top;
      if (mode === "new") this.marker.hidden = false;
    }
  }

  toEnd() {
    this.list.scrollTop = this.list.scrollHeight;
    this.pinned = true;
    this.pinnedTop = this.list.scrollTop;
    this.marker.hidden = true;
  }
}
