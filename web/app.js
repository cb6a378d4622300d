// The palisade chat page: one WebSocket, rooms, messages, sealed rooms.
//
// Security rules this file keeps:
// - The token comes from the URL fragment (never sent to a server, and
//   removed from the address bar at once) or from a paste box, lives only in
//   memory, and travels only in Sec-WebSocket-Protocol (PROTOCOL.md §2).
// - Everything a peer controls (text, names, rooms, error details) reaches
//   the DOM through textContent or text nodes only, never as markup.
// - No inline script or style: the page runs under a strict CSP.
import { CodecError, decodeServer, encodeClient, isRoomName } from "./codec.js";
import { OVERHEAD, deriveRoomKey, openText, seal } from "./seal.js";
import { Room } from "./rooms.js";
import { backoffMs, describeClose, describeError, shouldReconnect } from "./words.js";

const $ = (id) => document.getElementById(id);
// RFC 7230 token characters: what a Sec-WebSocket-Protocol entry may hold.
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Rust's char::is_control (category Cc) except \n and \t: the server refuses these.
const CONTROL_RE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;
const MAX_NOTICES = 50;

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
  current: null, // the room shown
  attempt: 0, // reconnect attempts since the last Welcome
  timer: null,
  userClosed: false,
  nextId: 1,
  pending: new Map(), // Publish/Delete id -> what it was, for Ack and Error
  expiryWarned: false,
};

// ---- small DOM helpers (text only) ----

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(typeof c === "string" ? document.createTextNode(c) : c);
  return node;
}

function notice(text, kind = "info") {
  const list = $("notices");
  list.prepend(el("li", { "data-testid": "notice", "data-kind": kind, text: `${new Date().toLocaleTimeString()} ${text}` }));
  while (list.children.length > MAX_NOTICES) list.lastChild.remove();
}

function setState(name, detail = "") {
  const s = $("state");
  s.textContent = detail ? `${name} (${detail})` : name;
  s.dataset.state = name;
  const live = name === "connected";
  $("disconnect-button").disabled = !(live || name === "connecting" || name === "reconnecting");
  $("renew-button").disabled = !live;
}

function formatMs(ms) {
  // Beyond what Date can hold (a server clock gone wrong, or a forgery).
  if (ms > 8640000000000000n) return { text: "unknown time", iso: "" };
  const d = new Date(Number(ms));
  return { text: d.toLocaleString(), iso: d.toISOString() };
}

// ---- connection ----

function connect() {
  clearTimeout(st.timer);
  if (!st.token) return notice("Paste a token first.", "error");
  let ws;
  try {
    ws = new WebSocket(`wss://${location.host}/ws`, ["palisade.v1", `bearer.${st.token}`]);
  } catch (e) {
    return notice(`Cannot connect: ${e.message}`, "error");
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
    notice("Not connected; try again once the connection is back.", "error");
    return false;
  }
  st.ws.send(encodeClient(frame));
  return true;
}

function newId(what) {
  const id = st.nextId;
  st.nextId = st.nextId >= 0xffffffff ? 1 : st.nextId + 1;
  st.pending.set(id, what);
  return id;
}

function onClose(code) {
  const opened = st.opened;
  st.ws = null;
  st.welcome = null;
  st.pending.clear();
  for (const room of st.rooms.values()) room.joined = false;
  renderTabs();
  if (st.userClosed) return setState("disconnected");
  notice(describeClose(code), "close");
  const expired = st.welcomeExpiry !== undefined && Date.now() / 1000 >= st.welcomeExpiry;
  // A socket that never opened was refused at the handshake (bad token,
  // origin, limits) or found no server. The browser cannot tell which, so
  // give up unless this token has worked before and has not expired.
  if (!opened && (!st.welcomedOnce || expired)) {
    setState("closed", "not connected");
    return notice("Could not connect: the token was refused or the server is unreachable. Check the token and press Connect.", "error");
  }
  if (!shouldReconnect(code) || expired) return setState("closed", `code ${code}`);
  const delay = backoffMs(st.attempt++);
  setState("reconnecting", `in ${Math.ceil(delay / 1000)} s`);
  st.timer = setTimeout(connect, delay);
}

function onMessage(data) {
  if (typeof data === "string") return notice("The server sent a text message; ignored.", "error");
  let frame;
  try {
    frame = decodeServer(data);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    notice(`The server sent a frame this page cannot read (${e.message}).`, "error");
    return st.ws?.close(1007);
  }
  HANDLERS[frame.type](frame);
}

const HANDLERS = {
  Welcome(f) {
    const first = st.welcome === null;
    if (st.pendingToken) {
      st.token = st.pendingToken;
      st.pendingToken = null;
      st.expiryWarned = false;
      notice("Token renewed.");
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
    // A Welcome that answers Reauth keeps the session and its rooms.
    if (first) for (const room of st.rooms.values()) send(room.joinFrame());
    renderMessages();
  },
  Joined(f) {
    const room = st.rooms.get(f.room);
    if (!room) return;
    const what = room.onJoined(f);
    if (what === "gap") notice(`Some messages in ${f.room} were no longer kept by the server while you were away.`);
    if (what === "reset") notice(`The history of ${f.room} restarted on the server; older messages were cleared here.`);
    renderTabs();
    renderMessages();
  },
  Left(f) {
    // The answer to our own Leave: leaveRoom already forgot the room. A room
    // of that name here that is not joined was joined again since, and its
    // Joined is still on the way: this Left is about the old membership.
    if (!st.rooms.get(f.room)?.joined) return;
    st.rooms.delete(f.room);
    if (st.current === f.room) st.current = null;
    renderTabs();
    renderMessages();
  },
  Message(f) {
    const room = st.rooms.get(f.room);
    if (room && room.accept(f) && f.room === st.current) renderMessages();
  },
  Ack(f) { st.pending.delete(f.id); },
  Deleted(f) {
    const room = st.rooms.get(f.room);
    if (room && room.remove(f.seq) && f.room === st.current) renderMessages();
  },
  Error(f) {
    const what = f.id === null ? undefined : st.pending.get(f.id);
    if (f.id !== null) st.pending.delete(f.id);
    if (f.code === "TokenRejected") st.pendingToken = null;
    const about = what ? `${what}: ` : "";
    notice(`${about}${describeError(f.code)}${f.detail ? ` Server said: ${f.detail}` : ""}`, "error");
  },
};

// ---- rooms and messages ----

function setPassphrase(room, passphrase) {
  room.keyGeneration += 1;
  room.key = passphrase ? deriveRoomKey(passphrase, room.name) : null;
  for (const entry of room.messages.values()) entry.shown = null;
}

/** What to show for a message body; opens sealed bodies in the background. */
function shownBody(room, entry) {
  if (entry.body.type === "Text") return { text: entry.body.text, kind: "text" };
  if (!room.key) return { text: "Sealed message: set this room's passphrase to read it.", kind: "sealed" };
  if (entry.shown && entry.shown.generation === room.keyGeneration) return entry.shown;
  const generation = room.keyGeneration;
  entry.shown = { text: "Opening…", kind: "sealed", generation };
  room.key
    .then((key) => openText(key, room.name, entry.from, entry.body.bytes))
    .then(
      (text) => ({ text, kind: "opened", generation }),
      (e) => ({ text: `Cannot decrypt (${e.message}).`, kind: "undecryptable", generation }),
    )
    .then((shown) => {
      if (room.keyGeneration !== generation) return;
      entry.shown = shown;
      if (room.name === st.current) renderMessages();
    });
  return entry.shown;
}

function renderMessages() {
  const room = st.current ? st.rooms.get(st.current) : undefined;
  $("room").hidden = !room;
  if (!room) return;
  $("room-title").textContent = room.joined ? room.name : `${room.name} (not joined)`;
  $("room-sealed").textContent = room.key ? "Messages you send here are sealed." : "Messages you send here are plain text.";
  const isAdmin = st.welcome?.role === "Admin";
  const items = room.list().map((entry) => {
    const time = formatMs(entry.sentAtMs);
    const body = shownBody(room, entry);
    const li = el("li", { "data-testid": "message", "data-seq": entry.seq.toString(), "data-kind": body.kind },
      el("span", { class: "from", "data-testid": "message-from", text: entry.from }),
      el("time", { "data-testid": "message-time", datetime: time.iso, text: time.text }),
      el("span", { class: "text", "data-testid": "message-text", text: body.text }));
    if (isAdmin) {
      const del = el("button", { type: "button", "data-testid": "delete-button", text: "Delete" });
      del.addEventListener("click", () => {
        send({ type: "Delete", id: newId(`Deleting message ${entry.seq} in ${room.name}`), room: room.name, seq: entry.seq });
      });
      li.append(del);
    }
    return li;
  });
  $("messages").replaceChildren(...items);
}

function renderTabs() {
  const tabs = [...st.rooms.values()].map((room) => {
    const pick = el("button", { type: "button", "data-testid": "room-tab", "data-room": room.name, text: room.name });
    if (room.name === st.current) pick.setAttribute("aria-current", "true");
    if (!room.joined) pick.classList.add("not-joined");
    pick.addEventListener("click", () => { st.current = room.name; renderTabs(); renderMessages(); });
    const leave = el("button", { type: "button", "data-testid": "leave-button", "data-room": room.name, text: "Leave" });
    leave.addEventListener("click", () => leaveRoom(room.name));
    return el("li", {}, pick, " ", leave);
  });
  $("room-tabs").replaceChildren(...tabs);
}

function leaveRoom(name) {
  if (st.welcome) send({ type: "Leave", room: name });
  st.rooms.delete(name); // forget now, so a reconnect does not re-join it
  if (st.current === name) st.current = null;
  renderTabs();
  renderMessages();
}

// ---- forms ----

const readToken = (input) => { const t = input.value.trim(); input.value = ""; return t; };

function validToken(t) {
  if (TOKEN_RE.test(t)) return true;
  notice("That does not look like a token (it has spaces or other characters a token never has).", "error");
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
  else notice("Paste a token first.", "error");
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

$("join-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("room-input").value.trim();
  if (!isRoomName(name)) {
    return notice("Room names are 1 to 32 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit.", "error");
  }
  let room = st.rooms.get(name);
  if (!room) st.rooms.set(name, (room = new Room(name)));
  const passphrase = $("passphrase-input").value;
  $("passphrase-input").value = "";
  if (passphrase) setPassphrase(room, passphrase);
  $("room-input").value = "";
  st.current = name;
  if (st.welcome && !room.joined) send(room.joinFrame());
  renderTabs();
  renderMessages();
});

$("room-key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const room = st.rooms.get(st.current);
  if (!room) return;
  setPassphrase(room, $("room-passphrase-input").value);
  $("room-passphrase-input").value = "";
  renderMessages();
});

$("send-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const room = st.rooms.get(st.current);
  const text = $("send-input").value.replace(/\r\n?/g, "\n");
  if (!room || !st.welcome || !text) return;
  if (CONTROL_RE.test(text)) return notice("The message has control characters the server refuses.", "error");
  const user = st.welcome.user;
  const maxBody = st.welcome.limits.max_body;
  let body = { type: "Text", text };
  if (room.key) {
    try {
      body = { type: "Sealed", bytes: await seal(await room.key, room.name, user, text) };
    } catch (e) {
      return notice(`Could not seal the message: ${e.message}`, "error");
    }
  }
  const size = body.type === "Text" ? new TextEncoder().encode(text).length : body.bytes.length;
  if (size > maxBody) {
    const extra = room.key ? ` (sealing adds ${OVERHEAD})` : "";
    return notice(`The message is ${size} bytes${extra}; the server takes at most ${maxBody}.`, "error");
  }
  if (send({ type: "Publish", id: newId(`Your message to ${room.name}`), room: room.name, body })) {
    $("send-input").value = "";
  }
});

// Ctrl/Cmd+Enter sends, plain Enter makes a new line.
$("send-input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("send-form").requestSubmit();
});

setInterval(() => {
  const left = st.welcome ? st.welcomeExpiry - Date.now() / 1000 : Infinity;
  if (left < 300 && !st.expiryWarned) {
    st.expiryWarned = true;
    notice("Your token expires in less than 5 minutes; paste a fresh one into Renew token.");
  }
}, 15000);

setState("disconnected");
if (fragmentToken) startWith(fragmentToken.trim());
