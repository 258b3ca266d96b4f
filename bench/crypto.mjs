// The slow steps of contract v2 in JavaScript (libsodium's WebAssembly under Node, the engine
// the browsers' worker uses): Argon2id at the vault's smallest and largest limits, the
// lookupHash, and payload encryption and decryption. Prints times; no assertions.
//
//     node bench/crypto.mjs [rounds]
import * as c from "../appliance/web/src/crypto/contract.js";

const rounds = Number(process.argv[2] ?? 3);
await c.ready();
const keys = c.generatePracticeKeys();

/** @param {string} name @param {() => unknown} step */
async function time(name, step) {
  const runs = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await step();
    runs.push(performance.now() - start);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(44)} median ${runs[runs.length >> 1].toFixed(0).padStart(6)} ms  (${runs.map((r) => r.toFixed(0)).join(", ")})`);
  return runs[runs.length >> 1];
}

const smallest = c.makeVault(keys, "Tresor im Keller, 2026!");
const largest = c.makeVault(keys, "Tresor im Keller, 2026!", { opslimit: 4, memlimit: 256 * 1024 * 1024 });
const low = await time("unlock, opslimit 2, memlimit 64 MiB", () => c.unlockVault(smallest, "Tresor im Keller, 2026!"));
const high = await time("unlock, opslimit 4, memlimit 256 MiB (maximum)", () => c.unlockVault(largest, "Tresor im Keller, 2026!"));
console.log(`ratio maximum / default: ${(high / low).toFixed(1)}x`);
await time("lookupHash (opslimit 3, 64 MiB)", () => c.lookupHash("AAECAwQFBgcICQoLDA0ODw==", "Weiß", "Anna", "1984-02-29"));
const photo = new Uint8Array(25 * 1024 * 1024);
const id = c.newRecordId();
/** @type {{wrappedKey: string, ciphertext: Uint8Array} | null} */
let sealed = null;
const encrypt = await time("encrypt a 25 MiB photo", async () => { sealed = await c.encryptPayload(keys.publicKey, photo, "photo", id); });
const done = /** @type {{wrappedKey: string, ciphertext: Uint8Array}} */ (/** @type {unknown} */ (sealed));
const decrypt = await time("decrypt it", () => c.decryptPayload(keys, done.wrappedKey, done.ciphertext, "photo", id));
console.log(`throughput: encrypt ${(25 / (encrypt / 1000)).toFixed(0)} MiB/s, decrypt ${(25 / (decrypt / 1000)).toFixed(0)} MiB/s`);
