// The practice's settings (ADMIN): name, time zone, language, brand colour (with its contrast
// against white text, as WCAG 2.1 measures it), logo (previewed before the upload), consent
// link expiry, the consent types offered with the practice's own text block per type, public
// base URL, Impressum and privacy links, the vault's idle lock and the GDT exchange directory.
// Every field is checked here by the API's rules first (settings-rules.js); what the API still
// refuses is shown at its field in the API's words.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { parseHex } from "../shared/contrast.js";
import { logoPath } from "../consent/chrome.js";
import { TYPES as CONSENT_TYPES } from "./consents-view.js";
import { problemOf } from "./problems.js";
import { apiFieldErrors, changesOf, formOf, settingsProblems, whiteTextContrast } from "./settings-rules.js";
import { timeZones } from "./setup-view.js";
import { Alert, Button, Field, Select } from "./ui.js";

const LOGO_TYPES = ["image/png", "image/jpeg", "image/webp"];
const MAX_LOGO_BYTES = 2 * 1024 * 1024;

/** @typedef {import("./settings-rules.js").Form} Form */
/** @param {{app: import("./app.js").App}} props */
export function SettingsView({ app }) {
  const { t, session } = app;
  const [saved, setSaved] = useState(/** @type {Form | null} */ (null));
  const [form, setForm] = useState(/** @type {Form | null} */ (null));
  const [gdtRoot, setGdtRoot] = useState(/** @type {string | null} */ (null));
  const [errors, setErrors] = useState(/** @type {Record<string, string>} */ ({}));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const zones = timeZones();

  useEffect(() => {
    Promise.all([session.api("GET", "/api/settings"), session.api("GET", "/api/gdt/settings")]).then(([settings, gdt]) => {
      const loaded = formOf(settings, session.practice ?? {}, gdt, CONSENT_TYPES);
      setGdtRoot(gdt.exchangeRoot ?? null);
      setSaved(loaded);
      setForm(loaded);
    }, (error) => setProblem(problemOf(error)));
  }, []);

  if (!form || !saved) {
    return h("div", {}, h("h1", {}, t("settings.title")),
      problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : h("p", { role: "status" }, t("common.loading")));
  }
  /** @param {Partial<Form>} change */
  const set = (change) => { setForm({ ...form, ...change }); setDone(false); };
  /** @param {string} type @param {Partial<{title: string, paragraphs: string}>} change */
  const setText = (type, change) => set({ texts: { ...form.texts, [type]: { ...form.texts[type], ...change } } });

  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    if (!form || !saved) return;
    const found = settingsProblems(form, zones, CONSENT_TYPES);
    setErrors(Object.fromEntries(Object.entries(found).map(([field, p]) => [field, t(p.key, p.params)])));
    setProblem(null);
    setDone(false);
    if (Object.keys(found).length) {
      setProblem({ key: "settings.checkFields" });
      return;
    }
    const changes = changesOf(saved, form, CONSENT_TYPES);
    setBusy(true);
    try {
      // Each call changes all of its fields or none; a refusal stops before the next one. The
      // GDT directory first: only the server can judge it (its exchange root, other practices).
      let gdt = null;
      if (changes.gdt) gdt = await session.api("PATCH", "/api/gdt/settings", { body: changes.gdt });
      if (changes.practice) session.practice = await session.api("PATCH", "/api/practice", { body: changes.practice });
      let settings = null;
      if (changes.settings) settings = await session.api("PATCH", "/api/settings", { body: changes.settings });
      settings = settings ?? await session.api("GET", "/api/settings");
      gdt = gdt ?? await session.api("GET", "/api/gdt/settings");
      if (changes.settings && "vaultIdleMinutes" in changes.settings) await session.refresh();
      const fresh = formOf(settings, session.practice ?? {}, gdt, CONSENT_TYPES);
      setSaved(fresh);
      setForm(fresh);
      setErrors({});
      setDone(true);
      session.changed();
    } catch (error) {
      const fields = apiFieldErrors(error);
      setErrors(fields);
      const known = problemOf(error);
      setProblem(Object.keys(fields).length ? { key: "settings.refused" } : known);
    } finally {
      setBusy(false);
    }
  }

  const contrast = whiteTextContrast(form.brandColor);
  return h("div", {},
    h("h1", {}, t("settings.title")),
    h("form", { onSubmit: submit, noValidate: true },
      h("section", { class: "card", "aria-labelledby": "settings-practice" },
        h("h2", { id: "settings-practice" }, t("settings.practiceHeading")),
        h(Field, { id: "settings-name", label: t("setup.name"), value: form.name, onInput: (v) => set({ name: v }),
          error: errors.name, required: true, autocomplete: "organization" }),
        h(Select, { id: "settings-zone", label: t("setup.timeZone"), value: form.timezone, onChange: (v) => set({ timezone: v }),
          options: (zones.includes(form.timezone) ? zones : [form.timezone, ...zones]).map((z) => ({ value: z, label: z })) }),
        errors.timezone ? h("p", { class: "error-text" }, errors.timezone) : null,
        h(Select, { id: "settings-locale", label: t("settings.locale"), value: form.locale, onChange: (v) => set({ locale: v }),
          options: ["de", "en"].map((code) => ({ value: code, label: t(`language.${code}`) })) }),
        h(Field, { id: "settings-base-url", label: t("settings.publicBaseUrl"), hint: t("settings.publicBaseUrlHint"),
          value: form.publicBaseUrl, onInput: (v) => set({ publicBaseUrl: v }), error: errors.publicBaseUrl, type: "url" }),
        h(Field, { id: "settings-impressum", label: t("settings.impressumUrl"), hint: t("settings.linkHint"),
          value: form.impressumUrl, onInput: (v) => set({ impressumUrl: v }), error: errors.impressumUrl, type: "url" }),
        h(Field, { id: "settings-privacy", label: t("settings.privacyUrl"), hint: t("settings.linkHint"),
          value: form.privacyUrl, onInput: (v) => set({ privacyUrl: v }), error: errors.privacyUrl, type: "url" })),
      h("section", { class: "card", "aria-labelledby": "settings-brand" },
        h("h2", { id: "settings-brand" }, t("settings.brandHeading")),
        h("div", { class: "brand-row" },
          h(Field, { id: "settings-color", label: t("settings.brandColor"), hint: t("settings.brandColorHint"),
            value: form.brandColor, onInput: (v) => set({ brandColor: v }), error: errors.brandColor }),
          h("div", { class: "field" },
            h("label", { for: "settings-color-pick" }, t("settings.pickColor")),
            h("input", { id: "settings-color-pick", type: "color", class: "color-pick",
              value: parseHex(form.brandColor) ? form.brandColor.toLowerCase() : "#000000",
              onInput: (/** @type {Event} */ e) => set({ brandColor: /** @type {HTMLInputElement} */ (e.currentTarget).value }) }))),
        contrast ? h(ContrastCheck, { app, color: form.brandColor, contrast }) : null,
        h(LogoPanel, { app })),
      h("section", { class: "card", "aria-labelledby": "settings-consents" },
        h("h2", { id: "settings-consents" }, t("settings.consentsHeading")),
        h(Field, { id: "settings-expiry", label: t("settings.expiry"), hint: t("settings.expiryHint"), inputmode: "numeric",
          value: form.defaultConsentExpiry, onInput: (v) => set({ defaultConsentExpiry: v }), error: errors.defaultConsentExpiry }),
        h("fieldset", { class: errors.enabledConsentTypes ? "types field-invalid" : "types",
          "aria-describedby": errors.enabledConsentTypes ? "settings-types-error" : undefined },
        h("legend", {}, t("settings.types")),
        CONSENT_TYPES.map((type) => h("div", { class: "check", key: type },
          h("input", { id: `settings-type-${type}`, type: "checkbox", checked: form.enabledConsentTypes.includes(type),
            onChange: (/** @type {Event} */ e) => {
              const on = /** @type {HTMLInputElement} */ (e.currentTarget).checked;
              set({ enabledConsentTypes: on ? [...form.enabledConsentTypes, type] : form.enabledConsentTypes.filter((x) => x !== type) });
            } }),
          h("label", { for: `settings-type-${type}` }, t(`type.${type}`)))),
        errors.enabledConsentTypes ? h("p", { class: "error-text", id: "settings-types-error" }, errors.enabledConsentTypes) : null),
        h("h3", {}, t("settings.textsHeading")),
        h("p", { class: "hint" }, t("settings.textsHint")),
        CONSENT_TYPES.filter((type) => form.enabledConsentTypes.includes(type)).map((type) => h("details", {
          key: type, class: "practice-text", open: Boolean(errors[`texts.${type}.title`] || errors[`texts.${type}.paragraphs`]
            || form.texts[type].title) },
        h("summary", {}, t("settings.textFor", { type: t(`type.${type}`) })),
        h(Field, { id: `settings-text-${type}-title`, label: t("settings.textTitle"), value: form.texts[type].title,
          onInput: (v) => setText(type, { title: v }), error: errors[`texts.${type}.title`] }),
        h(TextArea, { id: `settings-text-${type}-paragraphs`, label: t("settings.textParagraphs"), hint: t("settings.textParagraphsHint"),
          value: form.texts[type].paragraphs, onInput: (v) => setText(type, { paragraphs: v }),
          error: errors[`texts.${type}.paragraphs`] })))),
      h("section", { class: "card", "aria-labelledby": "settings-security" },
        h("h2", { id: "settings-security" }, t("settings.securityHeading")),
        h(Field, { id: "settings-idle", label: t("settings.idle"), hint: t("settings.idleHint"), inputmode: "numeric",
          value: form.vaultIdleMinutes, onInput: (v) => set({ vaultIdleMinutes: v }), error: errors.vaultIdleMinutes }),
        h(Field, { id: "settings-gdt-dir", label: t("settings.gdtDirectory"),
          hint: gdtRoot ? t("settings.gdtDirectoryHint", { root: gdtRoot }) : t("settings.gdtNoRoot"),
          value: form.exchangeDirectory, onInput: (v) => set({ exchangeDirectory: v }), error: errors.exchangeDirectory })),
      problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
      done ? h(Alert, { kind: "success" }, t("settings.saved")) : null,
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("settings.save"), busyLabel: t("common.loading") }))));
}

/** A labelled text box (the practice's paragraphs, one per line).
 * @param {{id: string, label: string, value: string, onInput: (value: string) => void, hint?: string, error?: string | null}} props */
function TextArea({ id, label, value, onInput, hint, error }) {
  const described = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return h("div", { class: error ? "field field-invalid" : "field" },
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    h("textarea", { id, value, rows: 4, "aria-invalid": error ? "true" : undefined, "aria-describedby": described || undefined,
      onInput: (/** @type {Event} */ e) => onInput(/** @type {HTMLTextAreaElement} */ (e.currentTarget).value) }),
    error ? h("p", { class: "error-text", id: `${id}-error` }, error) : null);
}

/** The colour as a band with white text, and its contrast ratio with the verdict.
 * @param {{app: import("./app.js").App, color: string, contrast: {ratio: number, aa: boolean, aaLarge: boolean}}} props */
function ContrastCheck({ app, color, contrast }) {
  const { t, i18n } = app;
  const ratio = new Intl.NumberFormat(i18n.locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(contrast.ratio);
  const verdict = contrast.aa ? "settings.contrastAa" : contrast.aaLarge ? "settings.contrastLarge" : "settings.contrastFail";
  // SVG presentation attributes, not style: the CSP allows no inline styles.
  return h("div", { class: "contrast" },
    h("svg", { class: "swatch", viewBox: "0 0 240 48", role: "img", "aria-label": t("settings.swatch", { color }) },
      h("rect", { width: 240, height: 48, rx: 6, fill: color }),
      h("text", { x: 16, y: 31, fill: "#ffffff", "font-size": 18, "font-weight": 700 }, t("settings.swatchText"))),
    h("p", { id: "settings-contrast", class: contrast.aa ? "contrast-ok" : "contrast-bad", role: "status" },
      t("settings.contrast", { ratio }), " ", t(verdict)));
}

/** The logo: the current one, a chosen file previewed before it is uploaded, and removal.
 * @param {{app: import("./app.js").App}} props */
function LogoPanel({ app }) {
  const { t, session } = app;
  const [current, setCurrent] = useState(/** @type {string | null} */ (null));
  const [file, setFile] = useState(/** @type {File | null} */ (null));
  const [preview, setPreview] = useState(/** @type {string | null} */ (null));
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  const [news, setNews] = useState(/** @type {string | null} */ (null));
  const [picks, setPicks] = useState(0); // a new file input after each upload: it forgets the file

  useEffect(() => {
    session.api("GET", "/api/settings/logo").then((logo) => setCurrent(logoPath(logo.logoUrl)), () => setCurrent(null));
  }, []);
  useEffect(() => () => { if (preview) URL.revokeObjectURL(preview); }, [preview]);

  /** @param {Event} e */
  function choose(e) {
    const chosen = /** @type {HTMLInputElement} */ (e.currentTarget).files?.[0] ?? null;
    setNews(null);
    if (!chosen) return;
    if (!LOGO_TYPES.includes(chosen.type)) { setError(t("settings.logoType")); setFile(null); setPreview(null); return; }
    if (chosen.size > MAX_LOGO_BYTES) { setError(t("settings.logoSize")); setFile(null); setPreview(null); return; }
    setError(null);
    setFile(chosen);
    setPreview(URL.createObjectURL(chosen));
  }
  /** @param {() => Promise<void>} run */
  async function busyWith(run) {
    setBusy(true);
    setError(null);
    try {
      await run();
    } catch (failure) {
      const p = problemOf(failure);
      const api = /** @type {{code?: string}} */ (failure).code;
      setError(api === "unsupported_image" ? t("settings.logoType") : t(p.key, p.params));
    } finally {
      setBusy(false);
    }
  }
  const upload = () => busyWith(async () => {
    if (!file) return;
    const body = new FormData();
    body.append("file", file, file.name);
    const logo = await session.api("POST", "/api/settings/logo", { raw: body });
    setCurrent(logoPath(logo.logoUrl));
    setFile(null);
    setPreview(null);
    setPicks(picks + 1);
    setNews(t("settings.logoSaved"));
  });
  const remove = () => busyWith(async () => {
    await session.api("DELETE", "/api/settings/logo");
    setCurrent(null);
    setNews(t("settings.logoRemoved"));
  });
  return h("div", { class: "logo-panel" },
    h("h3", {}, t("settings.logo")),
    current ? h("img", { src: current, alt: t("settings.logoCurrent"), class: "logo-image" }) : h("p", { class: "hint" }, t("settings.noLogo")),
    h("div", { class: error ? "field field-invalid" : "field" },
      h("label", { for: "settings-logo" }, t("settings.logoChoose")),
      h("p", { class: "hint", id: "settings-logo-hint" }, t("settings.logoHint")),
      h("input", { key: picks, id: "settings-logo", type: "file", accept: LOGO_TYPES.join(","), onChange: choose,
        "aria-describedby": error ? "settings-logo-hint settings-logo-error" : "settings-logo-hint" }),
      error ? h("p", { class: "error-text", id: "settings-logo-error" }, error) : null),
    preview ? h("figure", { class: "logo-preview" },
      h("img", { src: preview, alt: t("settings.logoPreview"), class: "logo-image" }),
      h("figcaption", {}, t("settings.logoPreviewCaption"))) : null,
    news ? h(Alert, { kind: "success" }, news) : null,
    h("div", { class: "actions" },
      file ? h(Button, { kind: "primary", busy, label: t("settings.logoUpload"), onClick: upload }) : null,
      current ? h(Button, { kind: "secondary", busy, label: t("settings.logoRemove"), onClick: remove }) : null));
}
