// End-to-end sealed bodies (PROTOCOL.md section 6) with WebCrypto.
//
// Same format as src/seal.rs, checked against tests/vectors/seal.json:
//   key    = PBKDF2-HMAC-SHA256(passphrase, "palisade.v1.room:" + room, 600000) -> 32 bytes
//   sealed = 0x01 || nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes)
//   AAD    = "palisade.v1|" + room + "|" + from
// The room and the sender are in the associated data, so a relay that moves
// a message to another room or stamps another sender on it makes opening
// fail. Passphrases are used as typed (UTF-8, no Unicode normalisation), as
// in Rust. Keys are non-extractable: script on the page can use them but
// never read them out.

export const ITERATIONS = 600000;
export const VERSION = 0x01;
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const OVERHEAD = 1 + NONCE_LEN + TAG_LEN;

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Why a sealed body does not open; `kind` names the Rust SealError. */
export class SealError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "SealError";
    this.kind = kind; // "TooShort" | "UnknownVersion" | "Forged" | "NotText"
  }
}

const aad = (room, from) => encoder.encode(`palisade.v1|${room}|${from}`);

/**
 * Derives a room's AES-256-GCM key. Deliberately slow (600,000 rounds):
 * derive once per room and passphrase, not per message.
 */
export async function deriveRoomKey(passphrase, room) {
  const base = await crypto.subtle.importKey(
    "raw", encoder.encode(passphrase), "PBKDF2", false, ["deriveKey"],
  );
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(`palisade.v1.room:${room}`), iterations: ITERATIONS },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * Seals with a caller-chosen nonce. For test vectors only: a nonce used twice
 * under one key reveals the XOR of the plaintexts and allows forgeries.
 */
export async function sealWithNonce(key, room, from, nonce, plaintext) {
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_LEN) {
    throw new TypeError("nonce must be 12 bytes");
  }
  const data = typeof plaintext === "string" ? encoder.encode(plaintext) : plaintext;
  const ct = new Uint8Array(await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aad(room, from), tagLength: TAG_LEN * 8 },
    key,
    data,
  ));
  const out = new Uint8Array(1 + NONCE_LEN + ct.length);
  out[0] = VERSION;
  out.set(nonce, 1);
  out.set(ct, 1 + NONCE_LEN);
  return out;
}

/** Seals `plaintext` (string or bytes) as sent by `from` into `room`. */
export function seal(key, room, from, plaintext) {
  return sealWithNonce(key, room, from, crypto.getRandomValues(new Uint8Array(NONCE_LEN)), plaintext);
}

/** Opens sealed bytes into plaintext bytes; throws SealError. */
export async function open(key, room, from, sealed) {
  if (sealed.length < OVERHEAD) throw new SealError("TooShort", `sealed body shorter than ${OVERHEAD} bytes`);
  if (sealed[0] !== VERSION) throw new SealError("UnknownVersion", `unknown sealed version ${sealed[0]}`);
  try {
    return new Uint8Array(await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.subarray(1, 1 + NONCE_LEN), additionalData: aad(room, from), tagLength: TAG_LEN * 8 },
      key,
      sealed.subarray(1 + NONCE_LEN),
    ));
  } catch {
    // Wrong passphrase, wrong room or sender, or changed bytes: GCM cannot
    // tell which, and the page should not guess.
    throw new SealError("Forged", "does not open with this room's passphrase");
  }
}

/** Opens sealed bytes that must hold UTF-8 text; throws SealError. */
export async function openText(key, room, from, sealed) {
  const plain = await open(key, room, from, sealed);
  try {
    return utf8.decode(plain);
  } catch {
    throw new SealError("NotText", "opened, but the plaintext is not UTF-8 text");
  }
}
