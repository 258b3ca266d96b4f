// The staff app's team, settings and account rules: who may open them, what the team's refusals say,
// the settings form checked by the API's own rules, the brand colour's contrast with white
// text, the API's field errors by field, and the PATCH bodies of what changed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { groupedSecret, passwordProblem } from "../../appliance/web/src/staff/account-view.js";
import { matchRoute, roleMayOpen } from "../../appliance/web/src/staff/router.js";
import {
  apiFieldErrors, changesOf, formOf, paragraphsOf, settingsProblems, whiteTextContrast,
} from "../../appliance/web/src/staff/settings-rules.js";
import { teamProblem } from "../../appliance/web/src/staff/team-view.js";
import { ApiError } from "../../appliance/web/src/shared/api.js";

const TYPES = ["BOTOX", "FILLER", "LASER", "CHEMICAL_PEEL", "MICRONEEDLING", "PRP"];
const ZONES = ["Europe/Berlin", "Europe/Vienna"];
const SETTINGS = {
  enabledConsentTypes: ["BOTOX", "FILLER"], defaultConsentExpiry: 7, brandColor: "#0b5394",
  timezone: "Europe/Berlin", locale: "de", publicBaseUrl: null, impressumUrl: null, privacyUrl: null,
  vaultIdleMinutes: 15, practiceTexts: { BOTOX: { title: "Preise", paragraphs: ["Eine Zone: 250 €", "Zwei: 400 €"], revision: 1 } },
};
const loaded = () => formOf(SETTINGS, { name: "Praxis Sonnenschein" }, { exchangeDirectory: null }, TYPES);

test("team and settings: their paths, for ADMIN only", () => {
  assert.equal(matchRoute("/team").name, "team");
  assert.equal(matchRoute("/settings/").name, "settings");
  for (const view of ["team", "settings"]) {
    assert.equal(roleMayOpen(view, "ADMIN"), true);
    assert.equal(roleMayOpen(view, "ARZT"), false);
    assert.equal(roleMayOpen(view, "EMPFANG"), false);
  }
  assert.equal(roleMayOpen("account", "EMPFANG"), true);
});

test("team refusals get the team's words; the seat limit names its numbers", () => {
  assert.deepEqual(teamProblem(new ApiError(409, "last_admin", "x")).key, "team.lastAdmin");
  assert.deepEqual(teamProblem(new ApiError(409, "cannot_remove_self", "x")).key, "team.cannotRemoveSelf");
  assert.deepEqual(teamProblem(new ApiError(409, "invite_pending", "x")).key, "team.invitePending");
  const seats = teamProblem(new ApiError(402, "plan_limit_reached", "x", { allowed: 3, used: 3 }));
  assert.deepEqual(seats, { key: "team.seatLimit", params: { allowed: 3, used: 3 } });
  assert.equal(teamProblem(new ApiError(404, "not_found", "x")).key, "problem.notFound");
});

test("the loaded settings pass the API's rules and change nothing", () => {
  const form = loaded();
  assert.equal(form.texts.BOTOX.paragraphs, "Eine Zone: 250 €\nZwei: 400 €");
  assert.deepEqual(settingsProblems(form, ZONES, TYPES), {});
  assert.deepEqual(changesOf(form, form, TYPES), { practice: null, settings: null, gdt: null });
});

test("each field is refused as the API refuses it", () => {
  const bad = {
    ...loaded(), name: " ", timezone: "Mars/Olympus", brandColor: "#0b539", defaultConsentExpiry: "91",
    vaultIdleMinutes: "0", publicBaseUrl: "https://praxis.example/?x=1", impressumUrl: "http://praxis.example/impressum",
    exchangeDirectory: "gdt/in", enabledConsentTypes: [],
  };
  bad.texts = { ...bad.texts, FILLER: { title: "", paragraphs: "Ohne Überschrift" },
    LASER: { title: "Laser", paragraphs: Array.from({ length: 11 }, (_, i) => `Absatz ${i}`).join("\n") } };
  const found = settingsProblems(bad, ZONES, TYPES);
  assert.deepEqual(Object.keys(found).sort(), [
    "brandColor", "defaultConsentExpiry", "enabledConsentTypes", "exchangeDirectory", "impressumUrl", "name",
    "publicBaseUrl", "texts.FILLER.title", "texts.LASER.paragraphs", "timezone", "vaultIdleMinutes",
  ]);
  assert.deepEqual(found.defaultConsentExpiry, { key: "settings.range", params: { low: 1, high: 90 } });
  assert.deepEqual(found["texts.LASER.paragraphs"], { key: "validation.tooManyItems", params: { max: 10 } });
  // The edges are allowed.
  const edges = { ...loaded(), defaultConsentExpiry: "90", vaultIdleMinutes: "240", publicBaseUrl: "http://10.0.0.5:8080/consent" };
  assert.deepEqual(settingsProblems(edges, ZONES, TYPES), {});
  // A text over 6000 characters in all is refused even with short enough paragraphs.
  const long = { ...loaded() };
  long.texts = { ...long.texts, BOTOX: { title: "Preise", paragraphs: Array.from({ length: 4 }, () => "x".repeat(1999)).join("\n") } };
  assert.deepEqual(settingsProblems(long, ZONES, TYPES)["texts.BOTOX.paragraphs"], { key: "validation.tooLong", params: { max: 6000 } });
});

test("contrast with white text: WCAG 2.1 ratios, never rounded up into AA", () => {
  assert.deepEqual(whiteTextContrast("#000000"), { ratio: 21, aa: true, aaLarge: true });
  assert.deepEqual(whiteTextContrast("#ffffff"), { ratio: 1, aa: false, aaLarge: false });
  const grey = whiteTextContrast("#777777"); // 4.48:1, the classic near miss
  assert.equal(grey?.aa, false);
  assert.equal(grey?.ratio, 4.47);
  assert.equal(whiteTextContrast("#767676")?.aa, true); // 4.54:1
  assert.equal(whiteTextContrast("blue"), null);
});

test("the API's field errors land at their fields", () => {
  const error = new ApiError(400, "validation_failed", "x", [
    { field: "exchangeDirectory", problem: "must be a directory inside /srv/gdt" },
    { field: "practiceTexts.BOTOX", problem: "is longer than 6000 characters in all" },
    { field: "practiceTexts.LASER.paragraphs.0", problem: "fails the pattern rule" },
    { field: "timezone", problem: "is not an IANA time zone" },
  ]);
  assert.deepEqual(apiFieldErrors(error), {
    exchangeDirectory: "must be a directory inside /srv/gdt",
    "texts.BOTOX.paragraphs": "is longer than 6000 characters in all",
    "texts.LASER.paragraphs": "fails the pattern rule",
    timezone: "is not an IANA time zone",
  });
  assert.deepEqual(apiFieldErrors(new ApiError(409, "x", "y")), {});
});

test("what changed becomes three PATCH bodies: empty strings are null, texts per type", () => {
  const before = loaded();
  const after = { ...before, name: "Praxis Mond ", brandColor: "#0B5394", vaultIdleMinutes: "5", publicBaseUrl: " ",
    enabledConsentTypes: ["FILLER", "BOTOX", "PRP"], exchangeDirectory: "/srv/gdt/praxis" };
  after.texts = { ...before.texts, BOTOX: { title: "", paragraphs: "" }, PRP: { title: "Eigenblut", paragraphs: "\nEin Absatz\n\n" } };
  assert.deepEqual(changesOf(before, after, TYPES), {
    practice: { name: "Praxis Mond" },
    settings: { vaultIdleMinutes: 5, enabledConsentTypes: ["BOTOX", "FILLER", "PRP"],
      practiceTexts: { BOTOX: null, PRP: { title: "Eigenblut", paragraphs: ["Ein Absatz"] } } },
    gdt: { exchangeDirectory: "/srv/gdt/praxis" },
  });
  assert.deepEqual(paragraphsOf(" a \r\n\n b"), ["a", "b"]);
});

test("account: the API's password rule, and the TOTP key in groups of four", () => {
  assert.equal(passwordProblem("kurz", "a@b.de"), "account.passwordLength");
  assert.equal(passwordProblem("x".repeat(257), "a@b.de"), "account.passwordLength");
  assert.equal(passwordProblem("Arzt@Praxis.de", "arzt@praxis.de"), "account.passwordIsEmail");
  assert.equal(passwordProblem("zehn-zeich", "a@b.de"), null);
  assert.equal(passwordProblem("🔑".repeat(9), "a@b.de"), "account.passwordLength"); // 9 code points, 18 UTF-16 units
  assert.equal(groupedSecret("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "ABCD EFGH IJKL MNOP QRST UVWX YZ23 4567");
  assert.equal(groupedSecret("ABCDEF"), "ABCD EF");
});
