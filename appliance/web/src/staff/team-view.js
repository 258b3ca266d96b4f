// The practice's team (ADMIN): members with their roles (change, remove), invitations by
// e-mail with a role (the link also to copy), the open invitations (resend with a fresh link,
// withdraw), and the seats the plan allows when billing is on. What the API refuses (the last
// ADMIN, oneself, a pending invitation, the seat limit) is said in the team's own words.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import { problemOf } from "./problems.js";
import { Alert, Button, Field, MailStatus, Select } from "./ui.js";

const ROLES = ["ADMIN", "ARZT", "EMPFANG"];
/** API codes of the team endpoints with their own words here. */
const TEAM_CODES = {
  last_admin: "team.lastAdmin",
  cannot_remove_self: "team.cannotRemoveSelf",
  cannot_change_own_role: "team.cannotChangeOwnRole",
  already_member: "team.alreadyMember",
  invite_pending: "team.invitePending",
  invite_closed: "team.inviteClosed",
  plan_limit_reached: "team.seatLimit",
};

/**
 * The team's words for a refusal, else the app's.
 * @param {unknown} error
 * @returns {import("./problems.js").Problem}
 */
export function teamProblem(error) {
  const e = /** @type {{name?: string, code?: string, details?: any}} */ (error ?? {});
  const key = /** @type {Record<string, string>} */ (TEAM_CODES)[e.code ?? ""];
  if (e.name === "ApiError" && key) {
    return { key, params: { allowed: e.details?.allowed ?? "", used: e.details?.used ?? "" } };
  }
  return problemOf(error);
}

/** @param {{app: import("./app.js").App}} props */
export function TeamView({ app }) {
  const { t, session } = app;
  const [members, setMembers] = useState(/** @type {any[] | null} */ (null));
  const [invites, setInvites] = useState(/** @type {any[]} */ ([]));
  const [usage, setUsage] = useState(/** @type {any} */ (null));
  const [problem, setProblem] = useState(/** @type {import("./problems.js").Problem | null} */ (null));
  const [news, setNews] = useState(/** @type {string | null} */ (null));
  const [issued, setIssued] = useState(/** @type {any} */ (null));

  async function load() {
    try {
      const [m, i] = await Promise.all([
        session.api("GET", "/api/team/members", { query: { limit: "100" } }),
        session.api("GET", "/api/team/invites", { query: { limit: "100" } }),
      ]);
      setMembers(m.items);
      setInvites(i.items);
    } catch (error) {
      setProblem(teamProblem(error));
    }
    if (!session.billingEnabled) return; // no plan, no seats to count
    try {
      setUsage((await session.api("GET", "/api/billing/subscription")).usage);
    } catch {
      setUsage(null);
    }
  }
  useEffect(() => { load(); }, []);

  /** Runs one change, then shows what it said and the fresh lists.
   * @param {() => Promise<any>} change @param {string | null} done */
  async function act(change, done) {
    setProblem(null);
    setNews(null);
    try {
      const answer = await change();
      setNews(done);
      await load();
      return answer;
    } catch (error) {
      setProblem(teamProblem(error));
      return null;
    }
  }

  return h("div", {},
    h("h1", {}, t("team.title")),
    usage ? h("p", { class: "seats" }, usage.memberLimit === null
      ? t("team.seatsUnlimited", { used: usage.members })
      : t("team.seats", { used: usage.members, allowed: usage.memberLimit })) : null,
    problem ? h(Alert, { kind: "error" }, t(problem.key, problem.params)) : null,
    news ? h(Alert, { kind: "success" }, news) : null,
    h(Members, { app, members, act }),
    h(InviteForm, { app, act, onIssued: setIssued }),
    issued ? h(IssuedLink, { app, issued }) : null,
    h(Invites, { app, invites, act, onIssued: setIssued }));
}

/**
 * @param {{app: import("./app.js").App, members: any[] | null,
 *   act: (change: () => Promise<any>, done: string | null) => Promise<any>}} props
 */
function Members({ app, members, act }) {
  const { t, session } = app;
  return h("section", { class: "card", "aria-labelledby": "members-heading" },
    h("h2", { id: "members-heading" }, t("team.membersHeading")),
    members === null ? h("p", { role: "status" }, t("common.loading")) : h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("team.name")), h("th", { scope: "col" }, t("login.email")),
        h("th", { scope: "col" }, t("account.role")), h("th", { scope: "col" }, t("team.actions")))),
      h("tbody", {}, members.map((member) => h(MemberRow, {
        key: member.id, app, member, act, self: member.id === session.user?.id,
      })))),
    h("p", { class: "hint" }, t("team.lastAdminRule")));
}

/**
 * @param {{app: import("./app.js").App, member: any, self: boolean,
 *   act: (change: () => Promise<any>, done: string | null) => Promise<any>}} props
 */
function MemberRow({ app, member, self, act }) {
  const { t, session } = app;
  const [role, setRole] = useState(member.role);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const roleId = `member-role-${member.id}`;
  /** @param {() => Promise<any>} change @param {string} done */
  async function run(change, done) {
    setBusy(true);
    await act(change, done);
    setBusy(false);
    setConfirming(false);
  }
  const path = `/api/team/members/${encodeURIComponent(member.id)}`;
  return h("tr", {},
    h("td", {}, h("span", {}, member.name), self ? h("span", { class: "tag" }, t("team.you")) : null,
      member.twoFactorEnabled ? h("span", { class: "tag" }, t("team.twoFactor")) : null),
    h("td", {}, member.email),
    h("td", {}, h("div", { class: "field field-compact" },
      h("label", { for: roleId, class: "visually-hidden" }, t("team.roleOf", { name: member.name })),
      h("select", { id: roleId, value: role, disabled: self,
        onChange: (/** @type {Event} */ e) => setRole(/** @type {HTMLSelectElement} */ (e.currentTarget).value) },
      ROLES.map((r) => h("option", { key: r, value: r }, t(`role.${r}`)))))),
    h("td", {}, h("div", { class: "row-actions" },
      role !== member.role ? h(Button, { kind: "primary", busy, label: t("team.saveRole"),
        onClick: () => run(() => session.api("PATCH", `${path}/role`, { body: { role } }),
          t("team.roleChanged", { name: member.name, role: t(`role.${role}`) })) }) : null,
      self ? null : confirming
        ? [h(Button, { key: "y", kind: "danger", busy, label: t("team.removeConfirm", { name: member.name }),
          onClick: () => run(() => session.api("DELETE", path), t("team.removed", { name: member.name })) }),
        h(Button, { key: "n", kind: "secondary", label: t("common.cancel"), onClick: () => setConfirming(false) })]
        : h(Button, { kind: "secondary", label: t("team.remove"), onClick: () => setConfirming(true) }))));
}

/**
 * @param {{app: import("./app.js").App, onIssued: (issued: any) => void,
 *   act: (change: () => Promise<any>, done: string | null) => Promise<any>}} props
 */
function InviteForm({ app, act, onIssued }) {
  const { t, session } = app;
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("ARZT");
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) {
      setError(t("validation.email"));
      return;
    }
    setError(null);
    setBusy(true);
    const issued = await act(() => session.api("POST", "/api/team/invite", { body: { email: email.trim(), role } }),
      t("team.invited", { email: email.trim() }));
    setBusy(false);
    if (issued) {
      onIssued(issued);
      setEmail("");
    }
  }
  return h("section", { class: "card", "aria-labelledby": "invite-heading" },
    h("h2", { id: "invite-heading" }, t("team.inviteHeading")),
    h("form", { onSubmit: submit, noValidate: true, class: "inline-form" },
      h(Field, { id: "team-invite-email", label: t("login.email"), type: "email", value: email, onInput: setEmail,
        error, required: true }),
      h(Select, { id: "team-invite-role", label: t("account.role"), value: role, onChange: setRole,
        options: ROLES.map((r) => ({ value: r, label: t(`role.${r}`) })) }),
      h("div", { class: "actions" }, h(Button, { type: "submit", busy, label: t("team.invite"), busyLabel: t("common.loading") }))));
}

/** The link of a new or resent invitation, to hand over when no mail goes out.
 * @param {{app: import("./app.js").App, issued: any}} props */
function IssuedLink({ app, issued }) {
  const { t } = app;
  return h("section", { class: "card", "aria-labelledby": "issued-heading" },
    h("h2", { id: "issued-heading" }, t("team.linkHeading", { email: issued.email })),
    issued.emailSent ? h("p", {}, t("team.mailQueued")) : h(Alert, { kind: "warning" }, t("team.noMail")),
    h("div", { class: "field" },
      h("label", { for: "invite-link" }, t("team.link")),
      h("input", { id: "invite-link", type: "text", readOnly: true, value: issued.link, class: "link-field",
        onFocus: (/** @type {FocusEvent} */ e) => /** @type {HTMLInputElement} */ (e.currentTarget).select() })));
}

/**
 * @param {{app: import("./app.js").App, invites: any[], onIssued: (issued: any) => void,
 *   act: (change: () => Promise<any>, done: string | null) => Promise<any>}} props
 */
function Invites({ app, invites, act, onIssued }) {
  const { t, session, i18n } = app;
  return h("section", { class: "card", "aria-labelledby": "invites-heading" },
    h("h2", { id: "invites-heading" }, t("team.invitesHeading")),
    invites.length === 0 ? h("p", {}, t("team.noInvites")) : h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, t("login.email")), h("th", { scope: "col" }, t("account.role")),
        h("th", { scope: "col" }, t("team.state")), h("th", { scope: "col" }, t("team.actions")))),
      h("tbody", {}, invites.map((invite) => {
        const path = `/api/team/invites/${encodeURIComponent(invite.id)}`;
        const expired = invite.status === "EXPIRED" || Date.parse(invite.expiresAt) <= Date.now();
        return h("tr", { key: invite.id },
          h("td", {}, invite.email),
          h("td", {}, t(`role.${invite.role}`)),
          h("td", {}, expired ? h("span", { class: "tag tag-expired" }, t("team.expired"))
            : t("team.until", { date: i18n.dateTime(invite.expiresAt) }),
          invite.mail ? h(MailStatus, { app, mail: invite.mail }) : null),
          h("td", {}, h("div", { class: "row-actions" },
            h(Button, { kind: "secondary", label: t("team.resend"), onClick: async () => {
              const issued = await act(() => session.api("POST", `${path}/resend`), t("team.resent", { email: invite.email }));
              if (issued) onIssued(issued);
            } }),
            h(Button, { kind: "danger", label: t("team.revoke"),
              onClick: () => act(() => session.api("DELETE", path), t("team.revoked", { email: invite.email })) }))));
      }))));
}
