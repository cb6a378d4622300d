// Sign and verify PASETO v4.public tokens with panva/paseto, an
// implementation independent of palisade's (pasetors). Used by
// tests/interop.rs.
//
//   node paseto.mjs sign <k4.secret PASERK> '<claims JSON>'   -> token
//   node paseto.mjs verify <k4.public PASERK> <token>         -> claims JSON
import { V4 } from "paseto";

const paserk = (s, prefix) => {
  if (!s.startsWith(prefix)) throw new Error(`not a ${prefix} key`);
  return V4.bytesToKeyObject(Buffer.from(s.slice(prefix.length), "base64url"));
};

const [command, key, arg] = process.argv.slice(2);
if (command === "sign") {
  // No footer and no automatic claims: the claims are exactly the caller's.
  const token = await V4.sign(JSON.parse(arg), paserk(key, "k4.secret."), { iat: false });
  process.stdout.write(token + "\n");
} else if (command === "verify") {
  const claims = await V4.verify(arg, paserk(key, "k4.public."), { ignoreExp: false });
  process.stdout.write(JSON.stringify(claims) + "\n");
} else {
  console.error("usage: paseto.mjs sign|verify KEY ARG");
  process.exit(2);
}
