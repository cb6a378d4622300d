// What the page may read from its own token without verifying it: the
// rooms it names exactly, to join them on connect. The server verifies the
// token; nothing here is trusted for access, it only saves typing.
import { isRoomName } from "./codec.js";

const SIGNATURE_LEN = 64; // Ed25519, at the end of a v4.public payload

/** The rooms `token`'s `rooms` claim names exactly (patterns skipped), or []. */
export function exactRooms(token) {
  const parts = String(token).split(".");
  if (parts.length < 3 || parts[0] !== "v4" || parts[1] !== "public") return [];
  try {
    const b64 = parts[2].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    if (bytes.length <= SIGNATURE_LEN) return [];
    const claims = JSON.parse(new TextDecoder().decode(bytes.subarray(0, bytes.length - SIGNATURE_LEN)));
    const rooms = Array.isArray(claims.rooms) ? claims.rooms : [];
    return [...new Set(rooms.filter(isRoomName))];
  } catch {
    return [];
  }
}
