// Plain-word explanations of ErrorCode values and close codes
// (PROTOCOL.md sections 4 and 5), kept apart from the UI so the sentences
// can be reviewed and tested on their own.

const ERROR_WORDS = {
  BadRequest: "The server refused that request: the room name, the text (empty or with control characters) or the size broke a rule.",
  Forbidden: "Your token does not allow that: your role or your rooms do not cover it.",
  NotJoined: "You have not joined that room, so you cannot send to it.",
  RateLimited: "You are sending too fast; that message was dropped.",
  TooManyRooms: "You are already in as many rooms as you are allowed.",
  NotFound: "That message is no longer kept by the room, so it cannot be deleted.",
  TokenRejected: "The new token was refused (invalid, expired or for another user); the current one stays in use until it expires.",
  Unavailable: "The server's storage or cluster is failing, so that request could not be carried out or confirmed; try again in a moment.",
};

const CLOSE_WORDS = {
  1000: "The connection was closed normally.",
  1001: "The server is shutting down.",
  1003: "The server received a text message; this page only sends binary frames.",
  1006: "The connection was lost, or the server refused it before it opened.",
  1007: "The server received a message that was not a valid frame.",
  1008: "Closed for breaking the rules again and again (for example too many refused or rate-limited requests).",
  1009: "A message was larger than the server accepts.",
  1011: "The server hit an internal error.",
  4001: "Your token expired and was not renewed. Paste a new token to continue.",
  4003: "You were removed by an administrator, or banned.",
  4009: "Disconnected for being too slow to keep up with messages.",
  4010: "Disconnected after being idle too long.",
};

/** One sentence for an ErrorCode name. */
export function describeError(code) {
  return ERROR_WORDS[code] ?? `The server refused the request (${String(code)}).`;
}

/** One sentence for a WebSocket close code. */
export function describeClose(code) {
  return CLOSE_WORDS[code] ?? `The connection closed with code ${Number(code)}.`;
}

// After these a new connection with the same token would be refused or
// closed again, so the page stops and asks the user instead of retrying.
const FINAL_CLOSES = new Set([1000, 4001, 4003, 1008]);

/** Whether to reconnect after the server closed with `code`. */
export function shouldReconnect(code) {
  return !FINAL_CLOSES.has(code);
}

/**
 * The wait before reconnect attempt `attempt` (0-based): 1 s doubling to
 * 30 s, then between half and all of it at random, so clients dropped
 * together do not all come back in the same instant.
 */
export function backoffMs(attempt, random = Math.random) {
  const ceiling = Math.min(30000, 1000 * 2 ** Math.min(attempt, 15));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

// Rust's char::is_control (category Cc) except \n and \t: the server refuses these.
const CONTROL_RE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

/**
 * The text to publish for what was typed: line ends as "\n", trailing
 * newlines dropped (the Enter that sent it is not part of the message).
 * Returns { text } or { error } with a sentence, or { text: "" } for nothing.
 */
export function outgoingText(typed) {
  const text = typed.replace(/\r\n?/g, "\n").replace(/\n+$/, "");
  if (CONTROL_RE.test(text)) return { error: "The message has control characters the server refuses." };
  return { text };
}

/** Whether a keydown in the message box sends: Enter without Shift, not while composing (IME). */
export function sendsOnKey(ev) {
  return ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey;
}
