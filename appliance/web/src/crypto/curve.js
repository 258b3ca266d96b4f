// Which 32 bytes are a practice public key (docs/crypto.md, practice keys): a canonical
// u-coordinate of a point of Curve25519's prime-order subgroup. The same rules as the server
// (appliance/envelopes.py), so a patient page never encrypts to a key the server would refuse.

const P = 2n ** 255n - 19n;
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
const A24 = 121665n;
/** u-coordinates of the points of order 1, 2, 4 and 8. */
const SMALL_ORDER = new Set([
  0n, 1n, P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

/** @param {bigint} a */
const mod = (a) => ((a % P) + P) % P;

/** @param {bigint} base @param {bigint} exponent */
function power(base, exponent) {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

/** The projective Z of [scalar]P (RFC 7748 ladder, unclamped): 0 exactly for the neutral element.
 * @param {bigint} u @param {bigint} scalar */
function ladderZ(u, scalar) {
  let [x2, z2, x3, z3] = [1n, 0n, u, 1n];
  let swap = 0n;
  for (let bit = BigInt(scalar.toString(2).length - 1); bit >= 0n; bit--) {
    const k = (scalar >> bit) & 1n;
    if (swap ^ k) [x2, x3, z2, z3] = [x3, x2, z3, z2];
    swap = k;
    const a = mod(x2 + z2), b = mod(x2 - z2);
    const aa = (a * a) % P, bb = (b * b) % P, e = mod(aa - bb);
    const c = mod(x3 + z3), d = mod(x3 - z3);
    const da = (d * a) % P, cb = (c * b) % P;
    x3 = mod((da + cb) ** 2n);
    z3 = mod(u * mod((da - cb) ** 2n));
    x2 = (aa * bb) % P;
    z2 = mod(e * (aa + A24 * e));
  }
  return swap ? z3 : z2;
}

/**
 * Why 32 bytes are not a practice public key, or null.
 * @param {Uint8Array} raw
 * @returns {string | null}
 */
export function x25519KeyProblem(raw) {
  if (raw.length !== 32) return "must be base64 of 32 bytes";
  if (raw[31] & 0x80) return "must have the top bit clear";
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(raw[i]);
  if (u >= P) return "must be a canonical X25519 coordinate (below 2^255 - 19)";
  if (SMALL_ORDER.has(u)) return "must not be a low-order point";
  const rhs = mod(u * u * u + 486662n * u * u + u);
  if (power(rhs, (P - 1n) / 2n) !== 1n) return "must be a point of Curve25519, not of its twist";
  if (ladderZ(u, ORDER) !== 0n) return "must be a point of the prime-order subgroup (no small-order component)";
  return null;
}
