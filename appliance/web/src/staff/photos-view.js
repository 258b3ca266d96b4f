// A patient's photos (ADMIN, ARZT): take or choose a photo, encrypt it in the crypto worker
// while the file is read (purpose photo, docs/crypto.md) with its thumbnail (purpose
// photo.thumbnail), upload it with progress and cancel; a gallery of decrypted thumbnails,
// filtered by region and type; two photos side by side; the marketing/teaching consent of a
// photo (signed); the decrypted original as a download; delete with a confirmation.
// A photo is never in the page whole: the File is read in slices by the worker, the
// ciphertext and the decrypted originals are Blobs (the browser's blob store), and object
// URLs are revoked when the view no longer shows them.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { Link } from "./frame-view.js";
import { download } from "./gdt-view.js";
import { displayName } from "./patient-names.js";
import { consentLabel, patientConsents } from "./patient-consents.js";
import { problemOf } from "./problems.js";
import { PHOTO_TYPES, originalName, percent } from "./photo-facts.js";
import { BODY_REGIONS } from "./treatment.js";
import { Alert, Button, Field, Pager, Select, useUrlFilters } from "./ui.js";

/** Photos per gallery page. */
const PAGE_SIZE = 24;

/**
 * @typedef {{id: string, patientId: string, type: string, bodyRegion: string, takenAt: string,
 *   wrappedKey: string, signature: string, photoConsentGranted: boolean, sizeBytes: number,
 *   encryptedMetadata: string | null, consentFormId: string | null,
 *   thumbnail: {wrappedKey: string, signature: string, sizeBytes: number} | null}} PhotoRecord
 * @typedef {{url?: string, caption?: string, mimeType?: string, problem?: import("./problems.js").Problem}} Opened
 */

/** @param {{app: import("./app.js").App}} props */
export function PhotosView({ app }) {
  const { t, session, route } = app;
  const patientId = route.params.id;
  const [name, setName] = useState(/** @type {string | null} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    (async () => {
      try {
        const record = await session.api("GET", `/api/patients/${patientId}`);
        setName(displayName(await session.call("openPatient", record, { allowUnconfirmed: true })));
      } catch (error) {
        setProblem(problemOf(error));
      }
    })();
  }, [patientId]);

  if (problem) return h("div", {}, h("h1", {}, t("photos.title")), h(Alert, { kind: "error" }, t(problem.key, problem.params)));
  if (name === null) return h("div", {}, h("h1", {}, t("photos.title")), h("p", { role: "status" }, t("common.loading")));
  return h("div", {},
    h("div", { class: "heading-row" },
      h("h1", {}, t("photos.titleFor", { name })),
      h(Link, { app, href: `/patients/${patientId}`, class: "button button-secondary" }, t("photos.backToPatient"))),
    h(UploadPanel, { app, patientId, onUploaded: () => setGeneration((n) => n + 1) }),
    h(Gallery, { app, patientId, generation }));
}

/**
 * Take or choose a photo and upload it encrypted.
 * @param {{app: import("./app.js").App, patientId: string, onUploaded: () => void}} props
 */
function UploadPanel({ app, patientId, onUploaded }) {
  const { t, session } = app;
  const [file, setFile] = useState(/** @type {File | null} */ (null));
  const [type, setType] = useState("BEFORE");
  const [region, setRegion] = useState("GLABELLA");
  const [caption, setCaption] = useState("");
  const [consent, setConsent] = useState(false);
  // Links the API keeps with the photo: a plan (?plan= preselects it) and a consent of the patient.
  const [plan, setPlan] = useState(() => new URLSearchParams(window.location.search).get("plan") ?? "");
  const [consentForm, setConsentForm] = useState("");
  const [links, setLinks] = useState(/** @type {{plans: any[], consents: any[]}} */ ({ plans: [], consents: [] }));
  useEffect(() => {
    Promise.all([
      session.api("GET", `/api/treatment-plans/patient/${patientId}`, { query: { limit: "200" } }).then((a) => a.items, () => []),
      patientConsents(session, patientId).catch(() => []),
    ]).then(([plans, consents]) => setLinks({ plans, consents }));
  }, [patientId]);
  const [phase, setPhase] = useState(/** @type {"idle" | "encrypting" | "uploading"} */ ("idle"));
  const [progress, setProgress] = useState({ done: 0, total: 0 });
  const [result, setResult] = useState(/** @type {{kind: "error" | "success" | "info", key: string, params?: any} | null} */ (null));
  const running = useRef(/** @type {{job: string, abort: AbortController} | null} */ (null));
  const form = useRef(/** @type {HTMLFormElement | null} */ (null));

  /** @param {Event} e */
  function choose(e) {
    const input = /** @type {HTMLInputElement} */ (e.currentTarget);
    setFile(input.files?.[0] ?? null);
    setResult(null);
  }

  /** @param {Event} e */
  async function upload(e) {
    e.preventDefault();
    if (!file) {
      setResult({ kind: "error", key: "photos.chooseFirst" });
      return;
    }
    const photoId = globalThis.crypto.randomUUID();
    const abort = new AbortController();
    running.current = { job: photoId, abort };
    setResult(null);
    setPhase("encrypting");
    setProgress({ done: 0, total: file.size });
    try {
      const encrypted = await session.call("encryptPhoto", file, photoId, photoId, {
        onProgress: (/** @type {{read: number, total: number}} */ p) => setProgress({ done: p.read, total: p.total }),
      });
      if (abort.signal.aborted) throw Object.assign(new Error("cancelled"), { name: "Cancelled" });
      const fields = {
        id: photoId, patientId, type, bodyRegion: region, takenAt: new Date().toISOString(),
        photoConsentGranted: consent, wrappedKey: encrypted.wrappedKey, consentFormId: consentForm || null,
      };
      const metadata = { mimeType: file.type || null, caption: caption.trim() || null };
      const { encryptedMetadata, signature } = await session.call("photoRecord", fields, metadata);
      const body = new FormData();
      for (const [key, value] of Object.entries({ id: photoId, patientId, type, bodyRegion: region, takenAt: fields.takenAt,
        wrappedKey: encrypted.wrappedKey, photoConsentGranted: String(consent), signature, encryptedMetadata,
        consentFormId: consentForm, treatmentPlanId: plan })) {
        if (value) body.append(key, value);
      }
      if (encrypted.thumbnail) {
        body.append("thumbnailWrappedKey", encrypted.thumbnail.wrappedKey);
        body.append("thumbnailSignature", encrypted.thumbnail.signature);
        body.append("thumbnail", encrypted.thumbnail.ciphertext, "thumbnail.enc");
      }
      body.append("file", encrypted.ciphertext, "photo.enc");
      setPhase("uploading");
      setProgress({ done: 0, total: encrypted.ciphertext.size });
      await session.upload("/api/photos", body, {
        signal: abort.signal, onProgress: (sent, total) => setProgress({ done: sent, total }),
      });
      setResult({ kind: "success", key: encrypted.thumbnail ? "photos.uploaded" : "photos.uploadedNoThumbnail" });
      setFile(null);
      setCaption("");
      form.current?.reset();
      onUploaded();
    } catch (error) {
      const { name, code } = /** @type {{name?: string, code?: string}} */ (error);
      if (name === "Cancelled" || code === "cancelled") setResult({ kind: "info", key: "photos.cancelled" });
      else if (code === "payload_too_large") setResult({ kind: "error", key: "photos.tooLarge" });
      else {
        const problem = problemOf(error);
        setResult({ kind: "error", key: problem.key, params: problem.params });
      }
    } finally {
      running.current = null;
      setPhase("idle");
    }
  }

  function cancel() {
    const job = running.current;
    if (!job) return;
    job.abort.abort();
    session.call("cancelJob", job.job).catch(() => undefined);
  }

  const busy = phase !== "idle";
  const share = percent(progress.done, progress.total);
  return h("section", { class: "card", "aria-labelledby": "photo-upload-heading" },
    h("h2", { id: "photo-upload-heading" }, t("photos.uploadHeading")),
    h("p", { class: "hint" }, t("photos.uploadIntro")),
    h("form", { ref: form, onSubmit: upload, noValidate: true },
      h("div", { class: "photo-pick" },
        h("div", { class: "field" },
          h("label", { for: "photo-camera" }, t("photos.takePhoto")),
          h("input", { id: "photo-camera", type: "file", accept: "image/*", capture: "environment", disabled: busy, onChange: choose })),
        h("div", { class: "field" },
          h("label", { for: "photo-file" }, t("photos.chooseFile")),
          h("input", { id: "photo-file", type: "file", accept: "image/*", disabled: busy, onChange: choose }))),
      file ? h("p", { class: "hint photo-chosen" }, t("photos.chosen", { name: file.name, size: Math.round(file.size / 1024 / 1024 * 10) / 10 })) : null,
      h("div", { class: "inline-form" },
        h(Select, { id: "photo-type", label: t("photos.type"), value: type, onChange: setType,
          options: PHOTO_TYPES.map((value) => ({ value, label: t(`treatment.photoTypes.${value}`) })) }),
        h(Select, { id: "photo-region", label: t("photos.region"), value: region, onChange: setRegion,
          options: BODY_REGIONS.map((value) => ({ value, label: t(`treatment.regions.${value}`) })) }),
        h(Field, { id: "photo-caption", label: t("photos.caption"), value: caption, onInput: setCaption })),
      h("div", { class: "inline-form" },
        h(Select, { id: "photo-plan", label: t("photos.plan"), value: plan, onChange: setPlan,
          options: [{ value: "", label: t("photos.noLink") }, ...links.plans.map((p) => ({
            value: p.id, label: `${t(`type.${p.consentType}`)} · ${app.i18n.dateTime(p.performedAt)}` }))] }),
        h(Select, { id: "photo-consent-form", label: t("photos.consentForm"), value: consentForm, onChange: setConsentForm,
          options: [{ value: "", label: t("photos.noLink") }, ...links.consents.map((c) => ({
            value: c.id, label: consentLabel(app, c) }))] })),
      h("div", { class: "check" },
        h("input", { id: "photo-consent", type: "checkbox", checked: consent,
          onChange: (/** @type {Event} */ e) => setConsent(/** @type {HTMLInputElement} */ (e.currentTarget).checked) }),
        h("label", { for: "photo-consent" }, t("photos.consentAtUpload"))),
      busy ? h("div", { class: "upload-progress" },
        h("label", { for: "photo-progress" }, t(phase === "encrypting" ? "photos.encrypting" : "photos.uploading")),
        h("progress", { id: "photo-progress", max: 100, value: share, "aria-valuetext": `${share} %` }),
        h("p", { class: "hint", role: "status", "aria-live": "polite" }, t("photos.progress", { percent: share }))) : null,
      h("div", { class: "actions" },
        h(Button, { type: "submit", busy, label: t("photos.upload"), busyLabel: t("photos.working") }),
        busy ? h(Button, { kind: "secondary", label: t("photos.cancel"), onClick: cancel }) : null)),
    result ? h(Alert, { kind: result.kind }, t(result.key, result.params)) : null);
}

/**
 * The patient's photos: filters, tiles with decrypted thumbnails, compare, consent, delete.
 * @param {{app: import("./app.js").App, patientId: string, generation: number}} props
 */
function Gallery({ app, patientId, generation }) {
  const { t, session, i18n } = app;
  const [filters, setFilter] = useUrlFilters(`/patients/${patientId}/photos`, /** @type {const} */ (["type", "bodyRegion"]));
  const { type, bodyRegion: region } = filters;
  const [page, setPage] = useState(1);
  const [data, setData] = useState(/** @type {{items: PhotoRecord[], total: number} | null} */ (null));
  const [opened, setOpened] = useState(/** @type {Map<string, Opened>} */ (new Map()));
  const [compare, setCompare] = useState(/** @type {string[]} */ ([]));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));

  useEffect(() => {
    let cancelled = false;
    /** @type {string[]} */
    const urls = [];
    setData(null);
    setOpened(new Map());
    setProblem(null);
    (async () => {
      try {
        const answer = await session.api("GET", `/api/photos/patient/${patientId}`, {
          query: { type: type || undefined, bodyRegion: region || undefined, page: String(page), limit: String(PAGE_SIZE) },
        });
        if (cancelled) return;
        setData(answer);
        for (const photo of /** @type {PhotoRecord[]} */ (answer.items)) {
          /** @type {Opened} */
          let result;
          try {
            const metadata = await session.call("openPhotoMetadata", photo);
            result = { caption: metadata?.caption ?? undefined, mimeType: metadata?.mimeType ?? undefined };
            if (photo.thumbnail) {
              const file = await session.api("GET", `/api/photos/${photo.id}/thumbnail`, { binary: true, blob: true });
              const jpeg = await session.call("openPhotoThumbnail", photo, file.data);
              if (cancelled) return;
              result.url = URL.createObjectURL(jpeg);
              urls.push(result.url);
            }
          } catch (error) {
            result = { problem: problemOf(error) };
          }
          if (cancelled) return;
          setOpened((before) => new Map(before).set(photo.id, result));
        }
      } catch (error) {
        if (!cancelled) setProblem(problemOf(error));
      }
    })();
    return () => {
      cancelled = true;
      urls.forEach((url) => URL.revokeObjectURL(url));
    };
  }, [patientId, type, region, page, generation]);

  /** @param {PhotoRecord} photo */
  const replace = (photo) => data && setData({ ...data, items: data.items.map((p) => (p.id === photo.id ? photo : p)) });
  /** @param {string} id */
  const remove = (id) => {
    if (data) setData({ items: data.items.filter((p) => p.id !== id), total: data.total - 1 });
    setCompare((chosen) => chosen.filter((c) => c !== id));
  };
  /** @param {string} id @param {boolean} on */
  const choose = (id, on) => setCompare((chosen) => (on ? [...chosen.filter((c) => c !== id), id].slice(-2) : chosen.filter((c) => c !== id)));

  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  const compared = data ? compare.map((id) => data.items.find((p) => p.id === id)).filter((p) => p !== undefined) : [];
  return h("section", { "aria-labelledby": "gallery-heading" },
    h("h2", { id: "gallery-heading" }, t("photos.galleryHeading")),
    h("div", { class: "filters" },
      h(Select, { id: "gallery-type", label: t("photos.filterType"), value: type, onChange: (v) => { setFilter("type")(v); setPage(1); },
        options: [{ value: "", label: t("photos.all") }, ...PHOTO_TYPES.map((value) => ({ value, label: t(`treatment.photoTypes.${value}`) }))] }),
      h(Select, { id: "gallery-region", label: t("photos.filterRegion"), value: region, onChange: (v) => { setFilter("bodyRegion")(v); setPage(1); },
        options: [{ value: "", label: t("photos.all") }, ...BODY_REGIONS.map((value) => ({ value, label: t(`treatment.regions.${value}`) }))] })),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    compared.length === 2 ? h(Compare, { app, photos: /** @type {PhotoRecord[]} */ (compared), opened, onClose: () => setCompare([]) })
      : h("p", { class: "hint" }, t("photos.compareHint")),
    data === null ? h("p", { role: "status" }, t("common.loading"))
      : data.items.length === 0 ? h("p", {}, t(type || region ? "photos.noneFiltered" : "photos.none"))
        : h("ul", { class: "photo-grid" }, data.items.map((photo) => h(PhotoTile, {
          app, photo, key: photo.id, opened: opened.get(photo.id), chosen: compare.includes(photo.id),
          onChoose: (on) => choose(photo.id, on), onChanged: replace, onDeleted: () => remove(photo.id),
        }))),
    data ? h("p", { class: "hint" }, t("photos.count", { count: data.total })) : null,
    data ? h(Pager, { app, page, pages, onPage: setPage }) : null);
}

/**
 * A short description of a photo for its alt text and heading.
 * @param {import("./app.js").App} app @param {PhotoRecord} photo
 */
function describe(app, photo) {
  return `${app.t(`treatment.photoTypes.${photo.type}`)} · ${app.t(`treatment.regions.${photo.bodyRegion}`)} · ${app.i18n.dateTime(photo.takenAt)}`;
}

/**
 * @param {{app: import("./app.js").App, photo: PhotoRecord, opened: Opened | undefined, chosen: boolean,
 *   onChoose: (on: boolean) => void, onChanged: (photo: PhotoRecord) => void, onDeleted: () => void}} props
 */
function PhotoTile({ app, photo, opened, chosen, onChoose, onChanged, onDeleted }) {
  const { t, session } = app;
  const [busy, setBusy] = useState(/** @type {"consent" | "original" | "delete" | null} */ (null));
  const [confirming, setConfirming] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const label = describe(app, photo);

  /** @param {boolean} granted */
  async function setConsent(granted) {
    setBusy("consent");
    setProblem(null);
    try {
      const signature = await session.call("photoConsentSignature", photo, granted);
      onChanged(await session.api("PATCH", `/api/photos/${photo.id}/consent`, { body: { photoConsentGranted: granted, signature } }));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(null);
    }
  }

  async function original() {
    setBusy("original");
    setProblem(null);
    try {
      const file = await fetchOriginal(session, photo, opened?.mimeType);
      download(file, originalName(photo, opened?.mimeType), file.type);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(null);
    }
  }

  async function remove() {
    setBusy("delete");
    setProblem(null);
    try {
      await session.api("DELETE", `/api/photos/${photo.id}`);
      onDeleted();
    } catch (error) {
      setProblem(problemOf(error));
      setBusy(null);
    }
  }

  const headingId = `photo-${photo.id}-heading`;
  return h("li", { class: chosen ? "photo-tile photo-tile-chosen" : "photo-tile", "aria-labelledby": headingId },
    h("figure", { class: "photo-figure" },
      opened?.url ? h("img", { src: opened.url, alt: t("photos.thumbnailAlt", { what: label }), class: "photo-thumb" })
        : h("div", { class: "photo-placeholder" }, opened?.problem ? t(opened.problem.key, opened.problem.params)
          : opened ? t("photos.noThumbnail") : t("photos.decrypting")),
      h("figcaption", {},
        h("h3", { id: headingId, class: "photo-title" }, label),
        opened?.caption ? h("p", { class: "photo-caption" }, opened.caption) : null,
        photo.photoConsentGranted ? h("span", { class: "tag tag-completed" }, t("photos.consentGranted")) : h("span", { class: "tag" }, t("photos.consentNone")))),
    h("div", { class: "check" },
      h("input", { id: `compare-${photo.id}`, type: "checkbox", checked: chosen,
        onChange: (/** @type {Event} */ e) => onChoose(/** @type {HTMLInputElement} */ (e.currentTarget).checked) }),
      h("label", { for: `compare-${photo.id}` }, t("photos.compareChoose"))),
    h("div", { class: "check" },
      h("input", { id: `consent-${photo.id}`, type: "checkbox", checked: photo.photoConsentGranted, disabled: busy !== null,
        "aria-describedby": `consent-${photo.id}-hint`,
        onChange: (/** @type {Event} */ e) => setConsent(/** @type {HTMLInputElement} */ (e.currentTarget).checked) }),
      h("label", { for: `consent-${photo.id}` }, t("photos.consentToggle")),
      h("p", { class: "hint", id: `consent-${photo.id}-hint` }, t("photos.consentHint"))),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("div", { class: "actions" },
      h(Button, { kind: "secondary", busy: busy === "original", label: t("photos.downloadOriginal"), busyLabel: t("photos.decryptingOriginal"), onClick: original }),
      confirming ? null : h(Button, { kind: "danger", label: t("photos.delete"), onClick: () => setConfirming(true) })),
    confirming ? h("div", { class: "confirm", role: "group", "aria-label": t("photos.deleteConfirmLabel") },
      h("p", {}, t("photos.deleteQuestion")),
      h("div", { class: "actions" },
        h(Button, { kind: "danger", busy: busy === "delete", label: t("photos.deleteConfirm"), busyLabel: t("photos.deleting"), onClick: remove }),
        h(Button, { kind: "secondary", label: t("common.cancel"), onClick: () => setConfirming(false) }))) : null);
}

/**
 * The decrypted original as a Blob: the ciphertext arrives as a Blob, the worker decrypts it
 * slice by slice after checking the photo's signature.
 * @param {import("./session.js").Session} session @param {PhotoRecord} photo @param {string | undefined} mimeType
 * @returns {Promise<Blob>}
 */
async function fetchOriginal(session, photo, mimeType) {
  const file = await session.api("GET", `/api/photos/${photo.id}/download`, { binary: true, blob: true, timeoutMs: 300000 });
  return session.call("openPhoto", photo, file.data, mimeType ?? "application/octet-stream");
}

/**
 * Two photos side by side (the earlier, or the BEFORE one, first): the thumbnails at once,
 * the decrypted originals when asked.
 * @param {{app: import("./app.js").App, photos: PhotoRecord[], opened: Map<string, Opened>, onClose: () => void}} props
 */
function Compare({ app, photos, opened, onClose }) {
  const { t, session } = app;
  const ordered = [...photos].sort((a, b) => (a.type === b.type ? a.takenAt.localeCompare(b.takenAt) : a.type === "BEFORE" ? -1 : 1));
  const [originals, setOriginals] = useState(/** @type {Map<string, string>} */ (new Map()));
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const key = ordered.map((p) => p.id).join();

  useEffect(() => setOriginals(new Map()), [key]);
  useEffect(() => () => originals.forEach((url) => URL.revokeObjectURL(url)), [originals]);

  async function loadOriginals() {
    setBusy(true);
    setProblem(null);
    try {
      /** @type {Map<string, string>} */
      const urls = new Map();
      for (const photo of ordered) {
        urls.set(photo.id, URL.createObjectURL(await fetchOriginal(session, photo, opened.get(photo.id)?.mimeType)));
      }
      setOriginals(urls);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  return h("section", { class: "card", "aria-labelledby": "compare-heading" },
    h("h2", { id: "compare-heading" }, t("photos.compareHeading")),
    h("div", { class: "compare" }, ordered.map((photo) => {
      const url = originals.get(photo.id) ?? opened.get(photo.id)?.url;
      const label = describe(app, photo);
      return h("figure", { class: "compare-side", key: photo.id },
        url ? h("img", { src: url, alt: t("photos.thumbnailAlt", { what: label }), class: "compare-image" })
          : h("div", { class: "photo-placeholder" }, t("photos.noThumbnail")),
        h("figcaption", {}, label));
    })),
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    h("div", { class: "actions" },
      originals.size ? null : h(Button, { kind: "secondary", busy, label: t("photos.compareOriginals"), busyLabel: t("photos.decryptingOriginal"), onClick: loadOriginals }),
      h(Button, { kind: "secondary", label: t("photos.compareClose"), onClick: onClose })));
}
