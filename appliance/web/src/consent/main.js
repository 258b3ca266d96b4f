// Entry of the patient consent page (/consent/<token>): the HTML shell loads this module and
// consent.css; everything the patient sees is built here from the API's answer and the
// message catalogues.
import { App } from "./app.js";

const root = document.getElementById("app");
if (root) new App(root).load();
