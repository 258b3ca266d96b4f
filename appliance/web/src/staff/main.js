// Entry of the staff web app (/, /patients, /consents, ... on the LAN entry; /invite/{token}
// also on the public one): the HTML shell loads this module and staff.css.
import { startApp } from "./app.js";

const root = document.getElementById("app");
if (root) startApp(root);
