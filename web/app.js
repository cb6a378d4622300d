// The palisade chat page: one WebSocket, rooms, messages, sealed rooms.
//
// Security rules this file keeps:
// - The token comes from the URL fragment (never sent to a server, and
//   removed from the address bar at once) or from a paste box, lives only in
//   memory, and travels only in Sec-WebSocket-Protocol (PROTOCOL.md §2).
// - Everything a peer controls (text, names, rooms, error details) reaches
//   the DOM through textContent or text nodes only, never as markup, and
//   message text is direction-isolated (dir="auto" + unicode-bidi: isolate)
//   so override characters cannot reorder what surrounds it.
// - No inline script or style: the page runs under a strict CSP.
import { CodecError, decodeServer, encodeClient, isRoomName } from "./codec.js";
import { OVERHEAD, seal } from "./seal.js";
import { setPassphrase, shownBody } from "./bodies.js";
import { Room } from "./rooms.js";
import { Outbox } from "./outbox.js";
import { MemberList } from "./members.js";
import { exactRooms } from "./token.js";
import { Follower, el, formatMs, noteItem, notice as showNotice } from "./view.js";
import { backoffMs, describeClose, describeError, outgoingText, sendsOnKey, shouldReconnect } from "./words.js";

const $ = (id) => document.getElementById(id);
// RFC 7230 token characters: what a Sec-WebSocket-Protocol entry may hold.
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Read the fragment before anything else, then remove it from the address
// bar and the history entry so it cannot leak through bookmarks or sharing.
const fragmentToken = (() => {
  if (!location.hash) return null;
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  history.replaceState(null, "", location.pathname + location.search);
  return token;
})();

const st = {
  token: null, // the token new connections use
  pendingToken: null, // sent in Reauth, adopted when the Welcome comes
  ws: null,
  opened: false, // the current socket reached "open"
  welcomedOnce: false, // some socket with this token got a Welcome
  welcome: null, // the latest Welcome frame
  welcomeExpiry: undefined, // its expires_at, Unix seconds
  rooms: new Map(), // name -> Room
  members: new MemberList(), // who is in each room, from presence frames
  current: null, // the room shown
  confirmDelete: null, // "room/seq" whose Delete awaits confirmation
  attempt: 0, // reconnect attempts since the last Welcome
  timer: null,
  userClosed: false,
  nextId: 1,
  pending: new Map(), // Delete id -> what it was, for Ack and Error
  outbox: null, // publishes awaiting their Ack, across reconnects (below)
  expiryWarned: false,
};

st.outbox = new Outbox(() => newId());
// Publishes refused with Unavailable go again (same key) after this long.
const STALLED_RETRY_MS = 3000;

const follower = new Follower($("messages"), $("new-messages"));
// On a narrow screen the join form folds away once there is a room to read.
const narrow = window.matchMedia("(max-width: 759px)");
const foldJoin = () => { if (narrow.matches && st.rooms.size > 0) $("join-box").open = false; };
narrow.addEventListener("change", foldJoin);
const notice = (kind, ...parts) => showNotice($("notices"), kind, ...parts);

function setState(name, detail = "") {
  const s = $("state");
  s.textContent = detail ? `${name} (${detail})` : name;
  s.dataset.state = name;
  const live = name === "connected";
  $("disconnect-button").disabled = !(live || name === "connecting" || name === "reconnecting");
  $("renew-button").disabled = !live;
  if (live) { $("account").open = false; $("connect-help").hidden = true; }
}

// ---- connection ----

function connect() {
  clearTimeout(st.timer);
  if (!st.token) return notice("error", "Paste a token first.");
  let ws;
  try {
    ws = new WebSocket(`wss://${location.host}/ws`, ["palisade.v1", `bearer.${st.token}`]);
  } catch (e) {
    return notice("error", `Cannot connect: ${e.message}`);
  }
  ws.binaryType = "arraybuffer";
  st.ws = ws;
  st.opened = false;
  st.userClosed = false;
  setState("connecting");
  ws.onopen = () => { if (ws === st.ws) { st.opened = true; setState("connecting", "waiting for welcome"); } };
  ws.onmessage = (ev) => { if (ws === st.ws) onMessage(ev.data); };
  ws.onclose = (ev) => { if (ws === st.ws) onClose(ev.code); };
}

function send(frame) {
  if (!st.ws || st.ws.readyState !== WebSocket.OPEN || !st.welcome) {
    notice("error", "Not connected; try again once the connection is back.");
    return false;
  }
  st.ws.send(encodeClient(frame));
  return true;
}

/** A correlation id in use by nothing waiting; `what` names a Delete for its Error. */
function newId(what) {
  let id;
  do {
    id = st.nextId;
    st.nextId = st.nextId >= 0xffffffff ? 1 : st.nextId + 1;
  } while (st.pending.has(id) || st.outbox.has(id));
  if (what) st.pending.set(id, what);
  return id;
}

function onClose(code) {
  const opened = st.opened;
  st.ws = null;
  st.welcome = null;
  st.pending.clear();
  st.members.clear();
  for (const room of st.rooms.values()) room.joined = false;
  render("same");
  if (st.userClosed) return setState("disconnected");
  const expired = st.welcomeExpiry !== undefined && Date.now() / 1000 >= st.welcomeExpiry;
  // A socket that never opened was refused at the handshake (origin, token,
  // limits) or found no server. The browser cannot tell which, so list the
  // causes and stop, unless this token has worked before and has not expired.
  if (!opened && (!st.welcomedOnce || expired)) {
    setState("closed", "not connected");
    $("page-origin").textContent = location.origin;
    $("connect-help").hidden = false;
    $("account").open = true;
    return;
  }
  notice("close", describeClose(code));
  if (!shouldReconnect(code) || expired) return setState("closed", `code ${code}`);
  const delay = backoffMs(st.attempt++);
  setState("reconnecting", `in ${Math.ceil(delay / 1000)} s`);
  st.timer = setTimeout(connect, delay);
}

function onMessage(data) {
  if (typeof data === "string") return notice("error", "The server sent a text message; ignored.");
  let frame;
  try {
    frame = decodeServer(data);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    notice("error", `The server sent a frame this page cannot read (${e.message}).`);
    return st.ws?.close(1007);
  }
  HANDLERS[frame.type]?.(frame);
}

const HANDLERS = {
  Welcome(f) {
    const first = st.welcome === null;
    if (st.pendingToken) {
      st.token = st.pendingToken;
      st.pendingToken = null;
      st.expiryWarned = false;
      notice("info", "Token renewed.");
    }
    st.welcome = f;
    st.welcomedOnce = true;
    st.welcomeExpiry = Number(f.expires_at);
    st.attempt = 0;
    $("welcome-user").textContent = f.user;
    $("welcome-role").textContent = f.role.toLowerCase();
    const exp = formatMs(f.expires_at * 1000n);
    $("welcome-expiry").textContent = exp.text;
    $("welcome-expiry").setAttribute("datetime", exp.iso);
    $("welcome").hidden = false;
    setState("connected");
    // A Welcome that answers Reauth keeps the session and its rooms. A new
    // session re-joins what we had, plus the rooms the token names exactly.
    if (first) {
      for (const name of exactRooms(st.token)) if (!st.rooms.has(name)) st.rooms.set(name, new Room(name));
      st.current ??= st.rooms.keys().next().value ?? null;
      for (const room of st.rooms.values()) send(room.joinFrame());
      // Publishes whose Ack the last connection took with it go again,
      // with their keys: the server publishes each at most once.
      const again = st.outbox.resend();
      for (const frame of again) send(frame);
      if (again.length > 0) notice("info", `Sent ${again.length} unconfirmed message(s) again; none will appear twice.`);
      foldJoin();
    }
    render("end");
  },
  Joined(f) {
    const room = st.rooms.get(f.room);
    if (!room) return;
    // The room notes a loss or a restart in its timeline (rooms.js).
    const { what } = room.onJoined(f);
    if (what !== "fresh" && what !== "resumed" && f.room !== st.current) {
      notice("info", `Messages in ${f.room} were lost while you were away; see the room.`);
    }
    // Who is there now; MemberJoined and MemberLeft keep it current.
    send({ type: "Presence", room: f.room });
    render(f.room === st.current ? "end" : "same");
  },
  Left(f) {
    // The answer to our own Leave: leaveRoom already forgot the room. A room
    // of that name here that is not joined was joined again since, and its
    // Joined is still on the way: this Left is about the old membership.
    if (!st.rooms.get(f.room)?.joined) return;
    st.rooms.delete(f.room);
    st.members.forget(f.room);
    if (st.current === f.room) st.current = null;
    render("end");
  },
  Message(f) {
    const room = st.rooms.get(f.room);
    if (!room || !room.accept(f)) return; // a gap is noted in the room
    if (f.room === st.current) render(f.from === st.welcome?.user ? "end" : "new");
    else { room.unread += 1; renderTabs(); }
  },
  Ack(f) { st.pending.delete(f.id); st.outbox.acked(f.id); },
  // Presence (PROTOCOL.md section 8): the answer to Presence, then events,
  // which also go into the room's timeline as text.
  Members(f) { if (st.rooms.has(f.room)) { st.members.set(f.room, f.users, f.total); renderMembers(); } },
  MemberJoined(f) { memberEvent(f, "arrival", "joined the room."); st.members.add(f.room, f.user); renderMembers(); },
  MemberLeft(f) { memberEvent(f, "departure", "left the room."); st.members.remove(f.room, f.user); renderMembers(); },
  Deleted(f) {
    const room = st.rooms.get(f.room);
    if (room && room.remove(f.seq) && f.room === st.current) render("same");
  },
  Error(f) {
    const refused = f.id === null ? null : st.outbox.refused(f.id, f.code);
    if (refused?.kept) {
      setTimeout(() => { if (st.welcome) for (const frame of st.outbox.stalled()) send(frame); }, STALLED_RETRY_MS);
      return notice("info", `The server could not confirm your message to ${refused.room}; it goes again in a moment, and will not appear twice.`);
    }
    const what = refused ? `Your message to ${refused.room}` : f.id === null ? undefined : st.pending.get(f.id);
    if (f.id !== null) st.pending.delete(f.id);
    if (f.code === "TokenRejected") st.pendingToken = null;
    const detail = f.detail ? [" Server said: ", { peer: f.detail }] : [];
    notice("error", what ? `${what}: ` : "", describeError(f.code), ...detail);
  },
};

// ---- rooms and messages ----

function memberEvent(f, kind, text) {
  const room = st.rooms.get(f.room);
  if (!room?.joined) return;
  room.note(kind, text, f.user);
  if (f.room === st.current) render("new");
}

function deleteControls(room, entry) {
  const key = `${room.name}/${entry.seq}`;
  if (st.confirmDelete !== key) {
    const del = el("button", { type: "button", class: "small", "data-testid": "delete-button", text: "Delete" });
    del.addEventListener("click", () => { st.confirmDelete = key; render("same"); });
    return [del];
  }
  const yes = el("button", { type: "button", class: "small danger", "data-testid": "delete-confirm", text: "Delete for everyone" });
  yes.addEventListener("click", () => {
    st.confirmDelete = null;
    send({ type: "Delete", id: newId(`Deleting message ${entry.seq} in ${room.name}`), room: room.name, seq: entry.seq });
    render("same");
  });
  const no = el("button", { type: "button", class: "small", "data-testid": "delete-cancel", text: "Keep" });
  no.addEventListener("click", () => { st.confirmDelete = null; render("same"); });
  return [yes, no];
}

function renderMessages(mode) {
  const room = st.current ? st.rooms.get(st.current) : undefined;
  $("room").hidden = !room;
  $("send-form").hidden = !room;
  $("no-room").hidden = !!room;
  if (!room) return;
  $("room-title").textContent = room.joined ? room.name : `${room.name} (not joined)`;
  $("room-sealed").textContent = room.key ? "Sealed: the server cannot read this room." : "Plain text";
  const isAdmin = st.welcome?.role === "Admin";
  const items = room.timeline().map(({ note, message: entry }) => {
    if (note) return noteItem(note);
    const time = formatMs(entry.sentAtMs);
    const body = shownBody(room, entry, () => { if (room.name === st.current) render("same"); });
    const li = el("li", { "data-testid": "message", "data-seq": entry.seq.toString(), "data-kind": body.kind },
      el("bdi", { class: "from", "data-testid": "message-from", text: entry.from }),
      el("time", { "data-testid": "message-time", datetime: time.iso, title: time.text, text: time.short }),
      el("div", { class: "text", dir: "auto", "data-testid": "message-text", text: body.text }));
    if (isAdmin) li.append(el("div", { class: "actions" }, ...deleteControls(room, entry)));
    return li;
  });
  follower.replace(items, mode);
}

function renderTabs() {
  const tabs = [...st.rooms.values()].map((room) => {
    const pick = el("button", { type: "button", class: "tab", "data-testid": "room-tab", "data-room": room.name }, room.name);
    if (room.unread > 0) pick.append(el("span", { class: "unread", "data-testid": "unread", text: String(room.unread) }));
    if (room.name === st.current) pick.setAttribute("aria-current", "true");
    if (!room.joined) pick.classList.add("not-joined");
    pick.addEventListener("click", () => { st.current = room.name; render("end"); });
    const leave = el("button", { type: "button", class: "small", "data-testid": "leave-button", "data-room": room.name, "aria-label": `Leave ${room.name}`, text: "Leave" });
    leave.addEventListener("click", () => leaveRoom(room.name));
    return el("li", {}, pick, leave);
  });
  $("room-tabs").replaceChildren(...tabs);
}

function renderMembers() {
  const known = st.current !== null && st.members.known(st.current);
  $("members").hidden = !known;
  if (!known) return;
  const users = st.members.of(st.current);
  const more = st.members.total(st.current) - users.length;
  $("members-title").textContent = `In this room (${st.members.total(st.current)})`;
  $("member-list").replaceChildren(...users.map((user) =>
    el("li", { "data-testid": "member" }, el("bdi", { text: user }))),
  ...(more > 0 ? [el("li", { class: "more", text: `and ${more} more` })] : []));
}

/** Redraws the page; `mode` is how the message list scrolls (see Follower.replace). */
function render(mode) {
  const room = st.current ? st.rooms.get(st.current) : undefined;
  if (room) room.unread = 0;
  renderTabs();
  renderMembers();
  renderMessages(mode);
}

function leaveRoom(name) {
  if (st.welcome) send({ type: "Leave", room: name });
  st.rooms.delete(name); // forget now, so a reconnect does not re-join it
  st.members.forget(name);
  st.outbox.forget(name);
  if (st.current === name) st.current = st.rooms.keys().next().value ?? null;
  render("end");
}

// ---- forms ----

const readToken = (input) => { const t = input.value.trim(); input.value = ""; return t; };

function validToken(t) {
  if (TOKEN_RE.test(t)) return true;
  notice("error", "That does not look like a token (it has spaces or other characters a token never has).");
  return false;
}

function startWith(token) {
  if (!validToken(token)) return;
  if (st.ws) { st.userClosed = true; st.ws.close(1000); st.ws = null; }
  Object.assign(st, { token, pendingToken: null, welcomedOnce: false, attempt: 0, welcome: null, expiryWarned: false });
  connect();
}

$("connect-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const token = readToken($("token-input")) || st.token;
  if (token) startWith(token);
  else notice("error", "Paste a token first.");
});

$("disconnect-button").addEventListener("click", () => {
  clearTimeout(st.timer);
  st.userClosed = true;
  if (st.ws) st.ws.close(1000);
  else setState("disconnected");
});

$("renew-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const token = readToken($("renew-input"));
  if (!token || !validToken(token)) return;
  if (send({ type: "Reauth", token })) st.pendingToken = token;
});

// The name rules are shown under the box all along; typing a name that
// breaks them marks the box before anything is sent.
$("room-input").addEventListener("input", () => {
  const name = $("room-input").value.trim();
  const bad = name !== "" && !isRoomName(name);
  $("room-input").setAttribute("aria-invalid", String(bad));
  $("room-rules").classList.toggle("broken", bad);
});

$("join-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("room-input").value.trim();
  if (!isRoomName(name)) {
    $("room-rules").classList.add("broken");
    return notice("error", `"${name}" is not a room name. Room names are 1 to 32 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit.`);
  }
  let room = st.rooms.get(name);
  if (!room) st.rooms.set(name, (room = new Room(name)));
  const passphrase = $("passphrase-input").value;
  $("passphrase-input").value = "";
  if (passphrase) setPassphrase(room, passphrase);
  $("room-input").value = "";
  st.current = name;
  if (st.welcome && !room.joined) send(room.joinFrame());
  foldJoin();
  render("end");
});

$("room-key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const room = st.rooms.get(st.current);
  if (!room) return;
  setPassphrase(room, $("room-passphrase-input").value);
  $("room-passphrase-input").value = "";
  $("room-key").open = false;
  render("same");
});

$("send-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const room = st.rooms.get(st.current);
  const typed = outgoingText($("send-input").value);
  if (typed.error) return notice("error", typed.error);
  const text = typed.text;
  if (!room || !st.welcome || !text) return;
  const user = st.welcome.user;
  const maxBody = st.welcome.limits.max_body;
  let body = { type: "Text", text };
  if (room.key) {
    try {
      body = { type: "Sealed", bytes: await seal(await room.key, room.name, user, text) };
    } catch (e) {
      return notice("error", `Could not seal the message: ${e.message}`);
    }
  }
  const size = body.type === "Text" ? new TextEncoder().encode(text).length : body.bytes.length;
  if (size > maxBody) {
    const extra = room.key ? ` (sealing adds ${OVERHEAD})` : "";
    return notice("error", `The message is ${size} bytes${extra}; the server takes at most ${maxBody}.`);
  }
  if (!st.welcome) return notice("error", "Not connected; try again once the connection is back.");
  const frame = st.outbox.publish(room.name, body);
  if (!frame) return notice("error", "Too many messages are waiting for the server's receipt; wait a moment.");
  if (send(frame)) $("send-input").value = "";
});

// Enter sends, Shift+Enter makes a new line (the hint under the box says so).
$("send-input").addEventListener("keydown", (ev) => {
  if (!sendsOnKey(ev)) return;
  ev.preventDefault();
  $("send-form").requestSubmit();
});

setInterval(() => {
  const left = st.welcome ? st.welcomeExpiry - Date.now() / 1000 : Infinity;
  if (left < 300 && !st.expiryWarned) {
    st.expiryWarned = true;
    notice("info", "Your token expires in less than 5 minutes; paste a fresh one into Renew token.");
    $("account").open = true;
  }
}, 15000);

setState("disconnected");
render("end");
if (fragmentToken) startWith(fragmentToken.trim());
