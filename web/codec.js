// The palisade.v1 frame codec (PROTOCOL.md section 4) for the browser.
//
// Postcard, written out by hand so the page needs no build step: a variant
// index, u16, u32 and u64 are unsigned LEB128 varints; a string or a byte
// string is a varint length then the bytes; an Option is 0x00, or 0x01 and
// the value; struct fields go in declaration order; a message must be
// exactly one frame. The decoder mirrors postcard 1.x byte for byte and is
// checked against tests/vectors/frames.json, which the Rust code generates:
// it refuses what the server refuses, with the same error kind, and accepts
// what postcard accepts (including padded varints such as 0x81 0x00 for 1,
// which postcard never writes but does read).
//
// Frames are plain objects with a `type`, fields named as in Rust. u64
// values are BigInt (a JS number is exact only up to 2^53); u16/u32 values
// are numbers; byte strings are Uint8Array; a member list is an array of
// strings.

/** Why bytes are not one valid frame; `kind` names the Rust DecodeError. */
export class CodecError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "CodecError";
    this.kind = kind; // "Empty" | "Truncated" | "Malformed" | "TrailingBytes"
  }
}

export const MAX_ROOM_LEN = 32;
export const MAX_USER_LEN = 64;
export const MAX_LISTED_USERS = 256;
export const ROLES = ["Observer", "Member", "Admin"];
export const ERROR_CODES = [
  "BadRequest", "Forbidden", "NotJoined", "RateLimited",
  "TooManyRooms", "NotFound", "TokenRejected", "Unavailable",
];

// [name, [[field, type], ...]] in variant order: the index is the wire tag,
// so entries may only ever be appended.
const CLIENT = [
  ["Join", [["room", "room"], ["since", "opt_u64"]]],
  ["Leave", [["room", "room"]]],
  ["Publish", [["id", "u32"], ["room", "room"], ["body", "body"]]],
  ["Delete", [["id", "u32"], ["room", "room"], ["seq", "u64"]]],
  ["Reauth", [["token", "string"]]],
  ["Presence", [["room", "room"]]],
  ["PublishOnce", [["id", "u32"], ["key", "u64"], ["room", "room"], ["body", "body"]]],
];

const SERVER = [
  ["Welcome", [["session", "u64"], ["user", "string"], ["role", "role"],
    ["expires_at", "u64"], ["limits", "limits"]]],
  ["Joined", [["room", "room"], ["first_seq", "u64"], ["last_seq", "u64"]]],
  ["Left", [["room", "room"]]],
  ["Message", [["room", "room"], ["seq", "u64"], ["from", "string"],
    ["sent_at_ms", "u64"], ["body", "body"]]],
  ["Ack", [["id", "u32"], ["seq", "u64"]]],
  ["Deleted", [["room", "room"], ["seq", "u64"]]],
  ["Error", [["id", "opt_u32"], ["code", "error_code"], ["detail", "string"]]],
  ["Members", [["room", "room"], ["total", "u32"], ["users", "users"]]],
  ["MemberJoined", [["room", "room"], ["user", "user"]]],
  ["MemberLeft", [["room", "room"], ["user", "user"]]],
];

const LIMITS = [["max_body", "u32"], ["max_rooms", "u16"],
  ["publish_per_sec", "u16"], ["history", "u16"]];

// Varint widths as postcard reads them: at most this many bytes, and the
// last of that many may only carry the bits the type has left.
const INTS = {
  u16: { bytes: 3, lastMax: 0x03, max: 0xffffn },
  u32: { bytes: 5, lastMax: 0x0f, max: 0xffffffffn },
  u64: { bytes: 10, lastMax: 0x01, max: 0xffffffffffffffffn },
};

/** Whether `s` is a room name: 1 to 32 bytes of [a-z0-9._-], first [a-z0-9]. */
export function isRoomName(s) {
  return typeof s === "string" && /^[a-z0-9][a-z0-9._-]{0,31}$/.test(s);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `s` is a user name (a token's `sub`): 1 to 64 bytes of UTF-8, no control characters. */
export function isUserName(s) {
  if (typeof s !== "string" || LONE_SURROGATE.test(s) || /\p{Cc}/u.test(s)) return false;
  const len = encoder.encode(s).length;
  return len >= 1 && len <= MAX_USER_LEN;
}

// Byte order of UTF-8, which is not JS string order (UTF-16 code units).
function compareBytes(a, b) {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// ignoreBOM keeps a leading U+FEFF, as Rust does; fatal refuses bad UTF-8.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  byte() {
    if (this.pos >= this.bytes.length) throw new CodecError("Truncated", "message ends inside a frame");
    return this.bytes[this.pos++];
  }

  varint(kind) {
    const { bytes, lastMax } = INTS[kind];
    let out = 0n;
    for (let i = 0; i < bytes; i++) {
      const b = this.byte();
      out |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        if (i === bytes - 1 && b > lastMax) throw new CodecError("Malformed", `${kind} varint out of range`);
        return kind === "u64" ? out : Number(out);
      }
    }
    throw new CodecError("Malformed", `${kind} varint longer than ${bytes} bytes`);
  }

  take(len) {
    // The length is checked against what is left before anything is copied.
    if (len > BigInt(this.bytes.length - this.pos)) {
      throw new CodecError("Truncated", "length beyond the end of the message");
    }
    const n = Number(len);
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string() {
    return this.stringWithBytes().text;
  }

  stringWithBytes() {
    const raw = this.take(this.varint("u64"));
    try {
      return { text: utf8.decode(raw), raw };
    } catch {
      throw new CodecError("Malformed", "string is not UTF-8");
    }
  }

  user() {
    const u = this.stringWithBytes();
    if (!isUserName(u.text)) throw new CodecError("Malformed", "invalid user name");
    return u;
  }

  // As postcard and palisade's UserList read it: a count beyond 256 is
  // refused at once when that many bytes are left; otherwise names are read
  // one by one, and the 257th, a repeat or a name out of byte order is refused.
  users() {
    const count = this.varint("u64");
    const left = BigInt(this.bytes.length - this.pos);
    if (count <= left && count > BigInt(MAX_LISTED_USERS)) {
      throw new CodecError("Malformed", `more than ${MAX_LISTED_USERS} users`);
    }
    const out = [];
    let prev = null;
    for (let i = 0n; i < count; i++) {
      const { text, raw } = this.user();
      if (out.length === MAX_LISTED_USERS) throw new CodecError("Malformed", `more than ${MAX_LISTED_USERS} users`);
      if (prev !== null && compareBytes(prev, raw) >= 0) {
        throw new CodecError("Malformed", "users not in ascending byte order");
      }
      out.push(text);
      prev = raw;
    }
    return out;
  }

  variant(names, what) {
    const index = this.varint("u32");
    if (index >= names.length) throw new CodecError("Malformed", `unknown ${what} variant ${index}`);
    return names[index];
  }

  value(type) {
    switch (type) {
      case "u16": case "u32": case "u64": return this.varint(type);
      case "string": return this.string();
      case "user": return this.user().text;
      case "users": return this.users();
      case "room": {
        const room = this.string();
        if (!isRoomName(room)) throw new CodecError("Malformed", "invalid room name");
        return room;
      }
      case "opt_u32": case "opt_u64": {
        const tag = this.byte();
        if (tag === 0) return null;
        if (tag === 1) return this.varint(type.slice(4));
        throw new CodecError("Malformed", `Option tag ${tag}`);
      }
      case "role": return this.variant(ROLES, "Role");
      case "error_code": return this.variant(ERROR_CODES, "ErrorCode");
      case "limits": return this.fields({}, LIMITS);
      case "body": {
        const kind = this.variant(["Text", "Sealed"], "Body");
        const raw = this.take(this.varint("u64"));
        if (kind === "Sealed") return { type: "Sealed", bytes: raw };
        try {
          return { type: "Text", text: utf8.decode(raw) };
        } catch {
          throw new CodecError("Malformed", "text is not UTF-8");
        }
      }
      default: throw new Error(`codec bug: unknown field type ${type}`);
    }
  }

  fields(obj, fields) {
    for (const [name, type] of fields) obj[name] = this.value(type);
    return obj;
  }
}

function decode(bytes, table, what) {
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) throw new TypeError("decode takes a Uint8Array or ArrayBuffer");
  if (bytes.length === 0) throw new CodecError("Empty", "empty message");
  const r = new Reader(bytes);
  const type = r.variant(table.map(([name]) => name), what);
  const fields = table.find(([name]) => name === type)[1];
  const frame = r.fields({ type }, fields);
  if (r.pos !== bytes.length) {
    throw new CodecError("TrailingBytes", `${bytes.length - r.pos} bytes left over after the frame`);
  }
  return frame;
}

class Writer {
  constructor() {
    this.out = [];
  }

  varint(kind, v, name) {
    let n;
    if (typeof v === "bigint") n = v;
    else if (Number.isSafeInteger(v)) n = BigInt(v);
    else throw new TypeError(`${name} must be an integer`);
    if (n < 0n || n > INTS[kind].max) throw new RangeError(`${name} is out of ${kind} range`);
    while (n >= 0x80n) {
      this.out.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.out.push(Number(n));
  }

  bytes(b) {
    this.varint("u64", b.length, "length");
    for (const x of b) this.out.push(x);
  }

  string(s, name) {
    if (typeof s !== "string") throw new TypeError(`${name} must be a string`);
    // TextEncoder would silently turn a lone surrogate into U+FFFD.
    if (LONE_SURROGATE.test(s)) {
      throw new TypeError(`${name} has a lone surrogate`);
    }
    this.bytes(encoder.encode(s));
  }

  variant(names, value, what) {
    const index = names.indexOf(value);
    if (index < 0) throw new TypeError(`unknown ${what} ${String(value)}`);
    this.varint("u32", index, what);
  }

  value(type, v, name) {
    switch (type) {
      case "u16": case "u32": case "u64": return this.varint(type, v, name);
      case "string": return this.string(v, name);
      case "user":
        if (!isUserName(v)) throw new TypeError(`${name} is not a valid user name`);
        return this.string(v, name);
      case "users": {
        if (!Array.isArray(v) || v.length > MAX_LISTED_USERS) {
          throw new TypeError(`${name} must be an array of at most ${MAX_LISTED_USERS} user names`);
        }
        const raws = v.map((u) => {
          if (!isUserName(u)) throw new TypeError(`${name} holds an invalid user name`);
          return encoder.encode(u);
        });
        for (let i = 1; i < raws.length; i++) {
          if (compareBytes(raws[i - 1], raws[i]) >= 0) {
            throw new TypeError(`${name} must be distinct and in ascending byte order`);
          }
        }
        this.varint("u64", raws.length, "length");
        for (const raw of raws) this.bytes(raw);
        return;
      }
      case "room":
        // Refused here so the page never sends what the server closes on.
        if (!isRoomName(v)) throw new TypeError(`${name} is not a valid room name`);
        return this.string(v, name);
      case "opt_u32": case "opt_u64":
        if (v === null || v === undefined) return this.out.push(0);
        this.out.push(1);
        return this.varint(type.slice(4), v, name);
      case "role": return this.variant(ROLES, v, "Role");
      case "error_code": return this.variant(ERROR_CODES, v, "ErrorCode");
      case "limits": return this.fields(v, LIMITS, name);
      case "body":
        if (v?.type === "Text") {
          this.varint("u32", 0, "Body");
          return this.string(v.text, "text");
        }
        if (v?.type === "Sealed" && v.bytes instanceof Uint8Array) {
          this.varint("u32", 1, "Body");
          return this.bytes(v.bytes);
        }
        throw new TypeError("body must be {type: 'Text', text} or {type: 'Sealed', bytes}");
      default: throw new Error(`codec bug: unknown field type ${type}`);
    }
  }

  fields(obj, fields, what) {
    if (typeof obj !== "object" || obj === null) throw new TypeError(`${what} must be an object`);
    for (const [name, type] of fields) this.value(type, obj[name], name);
  }
}

function encode(frame, table, what) {
  const index = table.findIndex(([name]) => name === frame?.type);
  if (index < 0) throw new TypeError(`unknown ${what} type ${String(frame?.type)}`);
  const w = new Writer();
  w.varint("u32", index, what);
  w.fields(frame, table[index][1], what);
  return Uint8Array.from(w.out);
}

/** Encodes a frame for the server. Throws TypeError/RangeError on bad input. */
export const encodeClient = (frame) => encode(frame, CLIENT, "ClientFrame");
/** Decodes one message from the server. Throws CodecError. */
export const decodeServer = (bytes) => decode(bytes, SERVER, "ServerFrame");
/** The server's direction, for tests and tools. */
export const encodeServer = (frame) => encode(frame, SERVER, "ServerFrame");
/** The server's decoder, for tests and tools. Throws CodecError. */
export const decodeClient = (bytes) => decode(bytes, CLIENT, "ClientFrame");
