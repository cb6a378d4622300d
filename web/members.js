// Who is in each room, as the server reports it (PROTOCOL.md section 8).
// State only, no DOM, so it is testable in Node; app.js renders it.
//
// The presence frames plug in one call each:
//   Members{room, total, users} -> members.set(room, users, total)
//   MemberJoined{room, user}    -> members.add(room, user)
//   MemberLeft{room, user}      -> members.remove(room, user)
//   our own Left / a close      -> members.forget(room) / members.clear()
// Events are per user (a user's first session arriving, last one leaving),
// so a user is in the list or not. A room the server has not described
// yet (no Members) is "unknown", and the page shows no list for it rather
// than an empty one.

export class MemberList {
  constructor() {
    this.rooms = new Map(); // room -> { users: Set, total }
  }

  /** Replaces what we know of `room` with a Members answer. */
  set(room, users, total = users.length) {
    this.rooms.set(room, { users: new Set(users), total: Number(total) });
  }

  /** `user` arrived in `room`; ignored while `room` is unknown. */
  add(room, user) {
    const r = this.rooms.get(room);
    if (r && !r.users.has(user)) { r.users.add(user); r.total += 1; }
  }

  /** `user` left `room`. */
  remove(room, user) {
    const r = this.rooms.get(room);
    if (r && r.users.delete(user)) r.total = Math.max(r.users.size, r.total - 1);
  }

  forget(room) {
    this.rooms.delete(room);
  }

  clear() {
    this.rooms.clear();
  }

  /** Whether the server has told us who is in `room`. */
  known(room) {
    return this.rooms.has(room);
  }

  /** The users listed for `room`, sorted; [] when unknown. */
  of(room) {
    return [...(this.rooms.get(room)?.users ?? [])].sort();
  }

  /** How many users are in `room` (the server may list only the first 256). */
  total(room) {
    return this.rooms.get(room)?.total ?? 0;
  }
}
