// What the page shows for a message body: text as it is, a sealed body
// opened with the room's passphrase key (PROTOCOL.md section 6), or a
// sentence saying why it cannot be read. No DOM here.
import { deriveRoomKey, openText } from "./seal.js";

/** Sets (or, with "", clears) `room`'s passphrase; every body is shown anew. */
export function setPassphrase(room, passphrase) {
  room.keyGeneration += 1;
  room.key = passphrase ? deriveRoomKey(passphrase, room.name) : null;
  for (const entry of room.messages.values()) entry.shown = null;
}

/**
 * What to show for a message body: { text, kind }. A sealed body is opened
 * in the background, and `opened()` is called when its text is ready.
 */
export function shownBody(room, entry, opened) {
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
      opened();
    });
  return entry.shown;
}
