// The hashed URLs of bundles a page loads later (workers, lazily imported modules that are
// entries of their own): the HTML shell names them in `data-assets` on <body>, from the
// build's manifest, so no page guesses a file name.

/** @returns {Record<string, string>} */
function shellAssets() {
  try {
    return JSON.parse(document.body.dataset.assets || "{}");
  } catch {
    return {};
  }
}

/** @param {string} name an entry name of appliance/web/build.mjs */
export function assetUrl(name) {
  const url = shellAssets()[name];
  if (!url) throw new Error(`the page shell names no asset ${name}`);
  return url;
}
