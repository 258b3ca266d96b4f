// Which view shows for which route (router.js names them).
import { AccountView } from "./account-view.js";
import { AnalyticsView } from "./analytics-view.js";
import { AuditView } from "./audit-view.js";
import { BillingView } from "./billing-view.js";
import { ConsentNewView, ConsentsView } from "./consents-view.js";
import { ConsentView } from "./consent-view.js";
import { HomeView, NotFoundView } from "./home-view.js";
import { PatientNewView, PatientsView, PatientView } from "./patients-view.js";
import { PhotosView } from "./photos-view.js";
import { PlanNewView, PlanView } from "./plans-view.js";
import { TemplatesView, TemplateView } from "./templates-view.js";
import { SettingsView } from "./settings-view.js";
import { TeamView } from "./team-view.js";

/** @type {Record<string, (props: {app: import("./app.js").App}) => any>} */
export const VIEWS = {
  home: HomeView,
  account: AccountView,
  patients: PatientsView,
  patientNew: PatientNewView,
  patient: PatientView,
  photos: PhotosView,
  consents: ConsentsView,
  consentNew: ConsentNewView,
  consent: ConsentView,
  audit: AuditView,
  planNew: PlanNewView,
  plan: PlanView,
  templates: TemplatesView,
  templateNew: TemplateView,
  template: TemplateView,
  analytics: AnalyticsView,
  billing: BillingView,
  team: TeamView,
  settings: SettingsView,
  notFound: NotFoundView,
};
