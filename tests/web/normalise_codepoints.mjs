// For tests/test_lookup_unicode.py: the JavaScript name normalisation of `A<c>B` for every code
// point c, as digests of blocks of 4096 code points (or, given a block number, the results of
// that block), so Python can compare its own results on every code point.
import { createHash } from "node:crypto";
import { normaliseName } from "../../appliance/web/src/crypto/lookup.js";

const BLOCK = 4096;

/** @param {number} codePoint */
function result(codePoint) {
  try {
    return normaliseName(`A${String.fromCodePoint(codePoint)}B`);
  } catch {
    return "!";
  }
}

/** @param {number} block */
const results = (block) => Array.from({ length: BLOCK }, (_, i) => result(block * BLOCK + i));

const only = process.argv[2];
if (only !== undefined) {
  process.stdout.write(JSON.stringify(results(Number(only))));
} else {
  const digests = [];
  for (let block = 0; block < 0x110000 / BLOCK; block++) {
    digests.push(createHash("sha256").update(results(block).join("\u0000"), "utf8").digest("hex"));
  }
  process.stdout.write(JSON.stringify(digests));
}
