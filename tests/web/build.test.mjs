// The bundle as `make web` leaves it for the server: every entry the pages need, hashed file
// names, gzip twins equal to their files, static imports that exist, no code from elsewhere,
// and pdf-lib only in a chunk the consent page loads on demand.
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

const staticDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../appliance/web/static");
/** @type {{entries: Record<string, string>, imports: Record<string, string[]>}} */
const manifest = JSON.parse(await readFile(path.join(staticDir, "manifest.json"), "utf8"));

test("the pages' entries are hashed files in the static folder", async () => {
  for (const name of ["consent", "consent-style", "staff", "staff-style", "crypto-worker"]) {
    assert.ok(manifest.entries[name], `no entry ${name}`);
  }
  for (const [name, file] of Object.entries(manifest.entries)) {
    assert.match(file, /-[A-Z0-9]{8}\.(js|css)$/, `${name}: ${file} has no content hash`);
    assert.ok((await stat(path.join(staticDir, file))).size > 0, `${name}: ${file} is empty`);
  }
});

test("every static import names a file that exists", async () => {
  for (const [file, imports] of Object.entries(manifest.imports)) {
    for (const imported of imports) {
      await stat(path.join(staticDir, imported)).catch(() => assert.fail(`${file} imports missing ${imported}`));
    }
  }
});

test("gzip twins hold exactly their file", async () => {
  const names = await readdir(staticDir);
  const twins = names.filter((name) => name.endsWith(".gz"));
  assert.ok(twins.some((name) => name.startsWith(manifest.entries.consent)), "the page script has no gzip twin");
  for (const twin of twins) {
    const original = await readFile(path.join(staticDir, twin.slice(0, -3)));
    assert.deepEqual(gunzipSync(await readFile(path.join(staticDir, twin))), original, twin);
  }
});

test("the page loads nothing from another origin and evaluates no strings", async () => {
  for (const name of (await readdir(staticDir)).filter((n) => /\.(js|css)$/.test(n))) {
    const text = await readFile(path.join(staticDir, name), "utf8");
    assert.doesNotMatch(text, /\bimport\s*\(?\s*["']https?:/, `${name} imports from another origin`);
    assert.doesNotMatch(text, /url\(\s*["']?https?:/, `${name} loads a style resource from another origin`);
    if (name.endsWith(".css")) assert.doesNotMatch(text, /@import/, `${name} imports style sheets`);
  }
  const page = await readFile(path.join(staticDir, manifest.entries.consent), "utf8");
  assert.doesNotMatch(page, /\bnew Function\(|\beval\(/, "the page script evaluates strings");
});

test("pdf-lib is not in the first load: only a chunk the copy imports on demand holds it", async () => {
  const statics = new Set();
  const pending = [manifest.entries.consent];
  while (pending.length) {
    const file = /** @type {string} */ (pending.pop());
    if (statics.has(file)) continue;
    statics.add(file);
    pending.push(...(manifest.imports[file] || []));
  }
  const marker = "PDFDocument";
  for (const file of statics) {
    assert.doesNotMatch(await readFile(path.join(staticDir, file), "utf8"), new RegExp(marker), `${file} holds pdf-lib`);
  }
  const chunks = (await readdir(staticDir)).filter((n) => n.startsWith("chunk-") && n.endsWith(".js"));
  const holders = [];
  for (const chunk of chunks) {
    if ((await readFile(path.join(staticDir, chunk), "utf8")).includes(marker)) holders.push(chunk);
  }
  assert.equal(holders.length, 1, `pdf-lib should be in one lazily loaded chunk, found ${holders}`);
});
