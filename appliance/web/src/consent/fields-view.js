// Renders the fields of a form document as labelled inputs (one fieldset per question with
// choices), shows validation messages next to each field and in a summary at the top, and
// writes what the patient enters into the page's values. Messages come from the catalogue.
import { focusOn, h, mount, uid } from "../shared/dom.js";
import { emptyValue, isVisible, validateFields } from "./form.js";

/**
 * @typedef {import("./form.js").Field} Field
 * @typedef {import("./form.js").Values} Values
 * @typedef {import("./form.js").Problem} Problem
 * @typedef {import("./form.js").DateParts} DateParts
 * @typedef {import("../shared/i18n.js").I18n} I18n
 * @typedef {{element: HTMLElement, field: Field, setProblem: (problem: Problem | null) => void,
 *   focusTarget: () => HTMLElement | null}} FieldView
 */

/**
 * @param {I18n} i18n
 * @param {Field} field
 * @param {Problem} problem
 */
export function problemText(i18n, field, problem) {
  return i18n.t(`validation.${problem.key}`, problem.params || {});
}

/**
 * The label with "(optional)" for optional fields.
 * @param {I18n} i18n
 * @param {Field} field
 */
function labelContent(i18n, field) {
  return [field.label, field.required ? null : h("span", { class: "optional" }, ` (${i18n.t("common.optional")})`)];
}

/**
 * One field, bound to `values`. `onChange` runs after every edit.
 * @param {Field} field
 * @param {Values} values
 * @param {I18n} i18n
 * @param {(field: Field) => void} onChange
 * @returns {FieldView}
 */
export function fieldView(field, values, i18n, onChange) {
  if (values[field.id] === undefined) values[field.id] = emptyValue(field);
  const id = `f-${field.id}`;
  const hint = field.help ? h("p", { class: "hint", id: `${id}-hint` }, field.help) : null;
  const error = h("p", { class: "error-message", id: `${id}-error`, hidden: true });
  const describedBy = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  /** @type {HTMLElement[]} */
  let inputs = [];
  /** @type {HTMLElement} */
  let element;
  const changed = () => onChange(field);

  switch (field.kind) {
    case "single":
    case "boolean": {
      const options = field.kind === "boolean"
        ? [{ value: "true", label: i18n.t("common.yes") }, { value: "false", label: i18n.t("common.no") }]
        : (field.options || []);
      const current = values[field.id];
      inputs = options.map((option, index) => h("input", {
        type: "radio", id: `${id}-${index}`, name: id, value: option.value,
        checked: field.kind === "boolean" ? String(current) === option.value : current === option.value,
        onchange: () => {
          values[field.id] = field.kind === "boolean" ? option.value === "true" : option.value;
          changed();
        },
      }));
      element = choiceGroup(field, i18n, hint, error, describedBy, options, inputs, "radio");
      break;
    }
    case "multi": {
      const options = field.options || [];
      const chosen = /** @type {string[]} */ (values[field.id]);
      const boxes = options.map((option, index) => h("input", {
        type: "checkbox", id: `${id}-${index}`, name: id, value: option.value,
        checked: chosen.includes(option.value),
        onchange: (/** @type {Event} */ event) => {
          const box = /** @type {HTMLInputElement} */ (event.target);
          let next = options.map((o) => o.value).filter((value) =>
            value === option.value ? box.checked : chosen.includes(value));
          if (box.checked && field.exclusive) {
            // "none" excludes every other answer, and any other answer excludes "none"
            next = option.value === field.exclusive ? [option.value] : next.filter((v) => v !== field.exclusive);
          }
          chosen.splice(0, chosen.length, ...next);
          boxes.forEach((other, i) => { other.checked = chosen.includes(options[i].value); });
          changed();
        },
      }));
      inputs = [...boxes];
      element = choiceGroup(field, i18n, hint, error, describedBy, options, boxes, "checkbox");
      if (field.other) {
        const other = field.other;
        const otherId = `f-${other.id}`;
        if (values[other.id] === undefined) values[other.id] = "";
        const text = h("input", {
          type: "text", id: otherId, name: otherId, value: String(values[other.id]),
          "aria-describedby": `${id}-error`,
          oninput: (/** @type {Event} */ event) => {
            values[other.id] = /** @type {HTMLInputElement} */ (event.target).value;
            changed();
          },
        });
        inputs.push(text);
        element.querySelector("fieldset")?.append(
          h("div", { class: "other" }, h("label", { for: otherId }, other.label), text));
      }
      break;
    }
    case "date": {
      element = dateField(field, values, i18n, hint, error, describedBy, changed);
      inputs = [...element.querySelectorAll("input")];
      break;
    }
    case "list": {
      element = listField(field, values, i18n, hint, error, describedBy, changed);
      inputs = [...element.querySelectorAll("input")];
      break;
    }
    default: {
      const attributes = {
        id, name: field.id, "aria-describedby": describedBy, autocomplete: field.autocomplete || "off",
        spellcheck: field.kind === "text" && !field.autocomplete ? "true" : "false",
        oninput: (/** @type {Event} */ event) => {
          values[field.id] = /** @type {HTMLInputElement} */ (event.target).value;
          changed();
        },
      };
      const input = field.multiline
        ? h("textarea", { ...attributes, rows: 4 }, String(values[field.id]))
        : h("input", { ...attributes, type: field.kind === "email" ? "email" : field.kind === "tel" ? "tel" : "text",
          value: String(values[field.id]),
          inputmode: field.kind === "email" ? "email" : field.kind === "tel" ? "tel" : null });
      inputs = [input];
      element = h("div", { class: "field" },
        h("label", { for: id }, labelContent(i18n, field)), hint, error, input);
    }
  }
  element.id = `field-${field.id}`;
  element.hidden = !isVisible(field, values);

  return {
    element,
    field,
    setProblem(problem) {
      const current = field.kind === "list" ? [...element.querySelectorAll("input")] : inputs;
      element.classList.toggle("field--error", Boolean(problem));
      error.hidden = !problem;
      mount(error, problem ? [h("span", { class: "visually-hidden" }, `${i18n.t("common.errorPrefix")} `),
        problemText(i18n, field, problem)] : []);
      for (const input of current) {
        if (problem) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    },
    focusTarget() {
      return element.querySelector("input, textarea, button");
    },
  };
}

/**
 * @param {Field} field
 * @param {I18n} i18n
 * @param {HTMLElement | null} hint
 * @param {HTMLElement} error
 * @param {string} describedBy
 * @param {{value: string, label: string}[]} options
 * @param {HTMLElement[]} inputs
 * @param {string} kind
 */
function choiceGroup(field, i18n, hint, error, describedBy, options, inputs, kind) {
  return h("div", { class: "field" },
    h("fieldset", { "aria-describedby": describedBy },
      h("legend", {}, labelContent(i18n, field)),
      hint, error,
      h("div", { class: `choices choices--${kind}` },
        options.map((option, index) => h("div", { class: "choice" },
          inputs[index], h("label", { for: inputs[index].id }, option.label))))));
}

/**
 * Day, month and year as three inputs in the locale's order: easier to type and to read out
 * than a date picker, and the same on every phone.
 * @param {Field} field
 * @param {Values} values
 * @param {I18n} i18n
 * @param {HTMLElement | null} hint
 * @param {HTMLElement} error
 * @param {string} describedBy
 * @param {() => void} changed
 */
function dateField(field, values, i18n, hint, error, describedBy, changed) {
  const parts = /** @type {DateParts} */ (values[field.id]);
  const id = `f-${field.id}`;
  const example = i18n.dateFieldOrder().map((p) => ({ day: "24", month: "12", year: "1985" })[p]).join(" ");
  const exampleHint = h("p", { class: "hint", id: `${id}-example` }, i18n.t("date.hint", { example }));
  const bday = field.autocomplete === "bday";
  const inputs = i18n.dateFieldOrder().map((part) => {
    const input = h("input", {
      id: `${id}-${part}`, name: `${id}-${part}`, type: "text", inputmode: "numeric",
      class: `date-${part}`, value: parts[part], maxlength: part === "year" ? 4 : 2,
      autocomplete: bday ? `bday-${part}` : "off",
      "aria-describedby": `${id}-example ${describedBy}`,
      oninput: (/** @type {Event} */ event) => {
        parts[part] = /** @type {HTMLInputElement} */ (event.target).value.trim();
        changed();
      },
    });
    return h("div", { class: "date-part" }, h("label", { for: input.id }, i18n.t(`date.${part}`)), input);
  });
  return h("div", { class: "field" },
    h("fieldset", { "aria-describedby": `${id}-example ${describedBy}` },
      h("legend", {}, labelContent(i18n, field)),
      hint, exampleHint, error,
      h("div", { class: "date-inputs" }, inputs)));
}

/**
 * A list of short texts (e.g. medications): one input per entry, add and remove buttons.
 * @param {Field} field
 * @param {Values} values
 * @param {I18n} i18n
 * @param {HTMLElement | null} hint
 * @param {HTMLElement} error
 * @param {string} describedBy
 * @param {() => void} changed
 */
function listField(field, values, i18n, hint, error, describedBy, changed) {
  const items = /** @type {string[]} */ (values[field.id]);
  if (field.required && items.length === 0) items.push(""); // one box to start with
  const list = h("ul", { class: "list-items" });
  const empty = h("p", { class: "hint" }, i18n.t("consent.fields.noItems"));
  const add = h("button", {
    type: "button", class: "button button--secondary",
    onclick: () => {
      items.push("");
      render();
      changed();
      /** @type {HTMLInputElement | null} */ (list.querySelector("li:last-child input"))?.focus();
    },
  }, i18n.t("consent.fields.addItem"));
  const id = `f-${field.id}`;

  function render() {
    mount(list, items.map((item, index) => {
      const inputId = `${id}-${index}`;
      return h("li", { class: "list-item" },
        h("label", { for: inputId, class: "visually-hidden" },
          i18n.t("consent.fields.item", { label: field.label, number: index + 1 })),
        h("input", {
          id: inputId, type: "text", value: item, autocomplete: "off", "aria-describedby": describedBy,
          oninput: (/** @type {Event} */ event) => {
            items[index] = /** @type {HTMLInputElement} */ (event.target).value;
            changed();
          },
        }),
        h("button", {
          type: "button", class: "button button--link",
          onclick: () => {
            items.splice(index, 1);
            render();
            changed();
            const next = list.querySelectorAll("input")[Math.min(index, items.length - 1)];
            /** @type {HTMLElement} */ (next || add).focus();
          },
        }, i18n.t("consent.fields.removeItem", { number: index + 1 })));
    }));
    empty.hidden = items.length > 0;
    add.hidden = Boolean(field.maxItems && items.length >= field.maxItems);
  }
  render();
  return h("div", { class: "field" },
    h("fieldset", { "aria-describedby": describedBy },
      h("legend", {}, labelContent(i18n, field)), hint, error, empty, list, add));
}

/**
 * A group of field views with validation: `check()` shows every problem next to its field
 * and in a summary (focused), and afterwards each edit re-checks, so fixed messages go away.
 * @param {Field[]} fields
 * @param {Values} values
 * @param {I18n} i18n
 */
export function fieldGroup(fields, values, i18n) {
  /** @type {FieldView[]} */
  const views = [];
  let checked = false;
  const summary = h("div", { class: "error-summary", hidden: true, tabindex: "-1" });

  const onChange = () => {
    for (const view of views) view.element.hidden = !isVisible(view.field, values);
    if (checked) show(false);
  };
  for (const field of fields) views.push(fieldView(field, values, i18n, onChange));

  /** @param {boolean} withSummary */
  function show(withSummary) {
    const problems = validateFields(fields, values);
    for (const view of views) view.setProblem(problems[view.field.id] || null);
    const failing = views.filter((view) => problems[view.field.id]);
    if (withSummary || !summary.hidden) {
      summary.hidden = failing.length === 0;
      const titleId = uid("summary");
      summary.setAttribute("aria-labelledby", titleId);
      mount(summary,
        h("h2", { id: titleId }, i18n.t("validation.summary", { count: failing.length })),
        h("ul", {}, failing.map((view) => h("li", {},
          h("button", {
            type: "button", class: "button--link",
            onclick: () => view.focusTarget()?.focus(),
          }, `${view.field.label}: ${problemText(i18n, view.field, problems[view.field.id])}`)))));
    }
    return failing.length === 0;
  }

  return {
    summary,
    elements: views.map((view) => view.element),
    /** Shows the problems; true when there are none. */
    check() {
      checked = true;
      const ok = show(true);
      if (!ok) focusOn(summary);
      return ok;
    },
  };
}
