// Bundles the browser clients with esbuild into appliance/web/static/ (shipped in the wheel,
// never committed). File names carry a content hash, so the server may let browsers cache
// them for good; manifest.json maps each entry point to its hashed file for the HTML shells,
// and names the chunks each file imports statically (the shells preload them). Every text
// file also gets a gzip twin (`.gz`), which the server sends to browsers that accept it.
import { build } from "esbuild";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "static");

/** @type {Record<string, string>} Entry points by the name the shells use: scripts, workers
 * and style sheets, relative to this folder. */
export const ENTRIES = {
  consent: "src/consent/main.js",
  "consent-style": "src/consent/consent.css",
  // The staff web app (issue 19), served at / on the LAN entry.
  staff: "src/staff/main.js",
  "staff-style": "src/staff/staff.css",
  // The crypto worker (contract v2, docs/crypto.md): the pages start it with the manifest's name.
  "crypto-worker": "src/crypto/worker.js",
};

/** Files the pages load that are worth compressing; images and fonts are compressed already. */
const COMPRESSIBLE = /\.(js|css|svg|wasm)$/;

/**
 * @typedef {{entries: Record<string, string>, imports: Record<string, string[]>}} Manifest
 * @param {import("esbuild").Metafile} metafile
 * @returns {Manifest}
 */
function manifestOf(metafile) {
  /** @type {Manifest} */
  const manifest = { entries: {}, imports: {} };
  for (const [file, output] of Object.entries(metafile.outputs)) {
    const statics = output.imports.filter((i) => i.kind === "import-statement" && !i.external);
    if (statics.length > 0) {
      manifest.imports[path.basename(file)] = statics.map((i) => path.basename(i.path));
    }
    const entry = output.entryPoint;
    if (!entry) continue;
    const name = Object.keys(ENTRIES).find(
      (key) => path.resolve(here, ENTRIES[key]) === path.resolve(entry),
    );
    if (name) manifest.entries[name] = path.basename(file);
  }
  return manifest;
}

/** Writes `name.gz` next to every compressible output when it is smaller. */
async function compress() {
  for (const name of await readdir(outdir)) {
    if (!COMPRESSIBLE.test(name)) continue;
    const data = await readFile(path.join(outdir, name));
    const packed = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
    if (packed.length < data.length) await writeFile(path.join(outdir, `${name}.gz`), packed);
  }
}

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const entryPoints = Object.values(ENTRIES).map((file) => path.join(here, file));
/** @type {Manifest} */
let manifest = { entries: {}, imports: {} };
if (entryPoints.length > 0) {
  const result = await build({
    entryPoints,
    outdir,
    bundle: true,
    format: "esm",
    splitting: true,
    minify: true,
    sourcemap: false,
    target: ["chrome111", "firefox115", "safari16"],
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
    metafile: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  manifest = manifestOf(result.metafile);
}
await writeFile(path.join(outdir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
await compress();
console.log(`built ${Object.keys(manifest.entries).length} entries into ${path.relative(process.cwd(), outdir)}`);
