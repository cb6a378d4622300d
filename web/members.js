// Who is in each room, as the server reports it (presence frames). State
// only, no DOM, so it is testable in Node; app.js renders it.
//
// How the presence frames plug in (one call each):
//   Members{room, users}     -> members.set(room, users)
//   MemberJoined{room, user} -> members.add(room, user)
//   MemberLeft{room, user}   -> members.remove(room, user)
//   our own Left / a close   -> members.forget(room) / members.clear()
// A room the server has not reported yet is "unknown", and the page shows
// no member list for it rather than an empty one.

export class MemberList {
  constructor() {
    this.rooms = new Map(); // room -> Map(user -> count of sessions)
  }

  /** Replaces what we know of `room` with the server's full list. */
  set(room, users) {
    const counts = new Map();
    for (const user of users) counts.set(user, (counts.get(user) ?? 0) + 1);
    this.rooms.set(room, counts);
  }

  /** One more session of `user` is in `room`; ignored while `room` is unknown. */
  add(room, user) {
    const counts = this.rooms.get(room);
    if (counts) counts.set(user, (counts.get(user) ?? 0) + 1);
  }

  /** One session of `user` left `room`. */
  remove(room, user) {
    const counts = this.rooms.get(room);
    const n = counts?.get(user);
    if (n === undefined) return;
    if (n > 1) counts.set(user, n - 1);
    else counts.delete(user);
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

  /** The users in `room`, sorted, each once; [] when unknown. */
  of(room) {
    return [...(this.rooms.get(room)?.keys() ?? [])].sort();
  }
}
