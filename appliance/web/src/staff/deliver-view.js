// Handing a consent link to the patient: the link itself (with the key fingerprint in its
// fragment, docs/crypto.md) to copy, a QR code for the patient's phone, and whether the e-mail
// went out when one was asked for.
import { h } from "preact";
import { useState } from "preact/hooks";
import { qrPath } from "./qr.js";
import { Alert } from "./ui.js";

/** @param {{app: import("./app.js").App, link: string, emailed?: boolean, email?: string}} props */
export function DeliverLink({ app, link, emailed, email }) {
  const { t } = app;
  const [copied, setCopied] = useState(/** @type {boolean | null} */ (null));
  async function copy() {
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return h("div", { class: "deliver" },
    emailed === true ? h(Alert, { kind: "success" }, t("deliver.emailed", { email: email ?? "" })) : null,
    emailed === false ? h(Alert, { kind: "warning" }, t("deliver.emailFailed")) : null,
    h("div", { class: "field" },
      h("label", { for: "consent-link" }, t("deliver.link")),
      h("input", { id: "consent-link", type: "text", readOnly: true, value: link, class: "link-field",
        onFocus: (/** @type {FocusEvent} */ e) => /** @type {HTMLInputElement} */ (e.currentTarget).select() })),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button button-primary", onClick: copy }, t("deliver.copy"))),
    copied === null ? null : h("p", { role: "status", class: "hint" }, copied ? t("deliver.copied") : t("deliver.copyFailed")),
    h(QrFigure, { text: link, label: t("deliver.qrLabel"), caption: t("deliver.qrCaption") }));
}

/** `text` as a QR code (an SVG path: no inline styles, no data URL) with its caption.
 * @param {{text: string, label: string, caption: string}} props */
export function QrFigure({ text, label, caption }) {
  const qr = qrPath(text);
  return h("figure", { class: "qr" },
    h("svg", { viewBox: `0 0 ${qr.size} ${qr.size}`, role: "img", "aria-label": label, class: "qr-code",
      xmlns: "http://www.w3.org/2000/svg", "shape-rendering": "crispEdges" },
      h("rect", { width: qr.size, height: qr.size, fill: "#ffffff" }),
      h("path", { d: qr.path, fill: "#000000" })),
    h("figcaption", {}, caption));
}
