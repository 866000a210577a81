// Small DOM helpers. Every piece of text goes through text nodes, never
// innerHTML, so data from the API cannot inject markup.

/**
 * h builds an element: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child).
 * Attributes that are null, undefined or false are left out; true sets an
 * empty attribute; on* functions become event listeners.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  el.append(...flatten(children));
  return el;
}

function flatten(children) {
  return children.flat(Infinity).filter((c) => c != null && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

/** replace swaps the children of el for the given ones. */
export function replace(el, ...children) {
  el.replaceChildren(...flatten(children));
}

const moneyFormats = new Map();

function moneyFormat(currency) {
  let f = moneyFormats.get(currency);
  if (!f) {
    try {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    } catch {
      f = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' });
    }
    moneyFormats.set(currency, f);
  }
  return f;
}

/** minorDigits is how many digits a currency has after the decimal point (2 for USD, 0 for JPY). */
export function minorDigits(currency) {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits;
}

/** money formats an amount in minor units (cents) of a currency. */
export function money(minor, currency) {
  return moneyFormat(currency).format(minor / 10 ** minorDigits(currency));
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** date formats an RFC 3339 timestamp for people. */
export function date(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : dateFormat.format(d);
}

/** stockLabel describes a stock level in words. */
export function stockLabel(stock) {
  if (stock <= 0) return 'Out of stock';
  if (stock <= 5) return `Only ${stock} left`;
  return 'In stock';
}

/**
 * field wraps a form control with its label, an optional hint and a slot for
 * its error message, tied together with aria-describedby. The control is an
 * <input> built from attrs unless one is given.
 */
export function field({ label, name, hint, control, ...attrs }) {
  const id = `f-${name}`;
  const input = control ?? h('input', { type: 'text', ...attrs });
  input.id = id;
  input.name = name;
  input.setAttribute('aria-describedby', [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' '));
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint && h('p', { class: 'hint', id: `${id}-hint` }, hint),
    input,
    h('p', { class: 'field-error', id: `${id}-error` }));
}

/** alertBox is a live region for a form's errors; it exists before any error so screen readers announce it. */
export function alertBox() {
  return h('div', { class: 'alert', role: 'alert', hidden: true });
}

/** showAlert puts a message into an alertBox (or hides it for an empty message). */
export function showAlert(box, ...message) {
  replace(box, ...message);
  box.hidden = message.length === 0;
}

/** clearErrors removes every error message from a form. */
export function clearErrors(form, box) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  if (box) showAlert(box);
}

/**
 * markInvalid shows message next to the form control named name and returns
 * the control, or null when the form has no such control.
 */
export function markInvalid(form, name, message) {
  const input = form.elements.namedItem(name);
  if (!(input instanceof HTMLElement)) return null;
  input.setAttribute('aria-invalid', 'true');
  const slot = form.querySelector(`#f-${CSS.escape(name)}-error`);
  if (slot) slot.textContent = message;
  return input;
}

/**
 * checkForm runs the browser's own constraint validation and shows its
 * messages the same way as the server's; it returns whether the form is valid.
 */
export function checkForm(form, box) {
  clearErrors(form, box);
  let first = null;
  for (const el of form.elements) {
    if (el.willValidate && !el.checkValidity()) {
      // The browser's "match the requested format" says nothing; the hint does.
      const hint = form.querySelector(`#f-${CSS.escape(el.name)}-hint`)?.textContent;
      markInvalid(form, el.name, el.validity.patternMismatch && hint ? `Use this format: ${hint}` : el.validationMessage);
      first ??= el;
    }
  }
  if (first) {
    showAlert(box, 'Please correct the highlighted fields.');
    first.focus();
  }
  return !first;
}

/** busy disables a button while work is under way and shows what is happening. */
export function busy(button, text) {
  const idle = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = text;
  return () => {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = idle;
  };
}

/**
 * showProblem shows an ApiError on a form: each invalid field's message next
 * to its control (labels names the controls for people, and fieldFor maps an
 * API field to a control name), and a summary in the alert box.
 */
export function showProblem(form, box, err, { labels = {}, fieldFor = {} } = {}) {
  clearErrors(form, box);
  const unplaced = [];
  let first = null;
  for (const { field: name, message } of err.fields) {
    const control = fieldFor[name] ?? name;
    const input = markInvalid(form, control, `${labels[control] ?? 'This field'} ${message}.`);
    if (input) first ??= input;
    else unplaced.push(`${name} ${message}.`);
  }
  let summary = first ? 'Please correct the highlighted fields.' : err.message;
  if (err.status === 429 && err.retryAfter) summary = `${err.message} You can try again in ${err.retryAfter} seconds.`;
  showAlert(box, [summary, ...unplaced].join(' '));
  first?.focus();
}

/** heading is a view's h1; it takes the focus after each navigation. */
export function heading(text) {
  return h('h1', { tabindex: '-1' }, text);
}

/** hidden is text for screen readers only. */
export function hidden(text) {
  return h('span', { class: 'visually-hidden' }, text);
}

/** needLogin is the view for a page that needs a signed-in user. */
export function needLogin(next, message) {
  const to = encodeURIComponent(next);
  return {
    title: 'Log in',
    content: h('section', { class: 'narrow' },
      heading('Please log in'),
      h('p', {}, message),
      h('p', { class: 'actions' },
        h('a', { class: 'button', href: `#/login?next=${to}` }, 'Log in'),
        h('a', { class: 'button secondary', href: `#/register?next=${to}` }, 'Create an account'))),
  };
}

/**
 * confirmAction is a button that asks before doing something that cannot be
 * undone: a click shows the question with "yes" and "no" buttons, and "yes"
 * runs action. A failure is shown in plain words next to the buttons.
 */
export function confirmAction({ label, question, yes, no, working, action }) {
  const box = h('div', { class: 'confirm' });
  const error = alertBox();
  const start = h('button', { type: 'button', class: 'secondary', onclick: ask }, label);
  const yesButton = h('button', { type: 'button', class: 'danger', onclick: run }, yes);
  const noButton = h('button', { type: 'button', class: 'secondary', onclick: back }, no);
  function ask() {
    showAlert(error);
    replace(box, h('span', { class: 'question' }, question), yesButton, noButton);
    yesButton.focus();
  }
  function back() {
    replace(box, start);
    start.focus();
  }
  async function run() {
    const done = busy(yesButton, working);
    noButton.disabled = true;
    try {
      await action();
    } catch (err) {
      showAlert(error, err.message);
      done();
      noButton.disabled = false;
    }
  }
  replace(box, start);
  return h('div', { class: 'confirm-wrap' }, box, error);
}
