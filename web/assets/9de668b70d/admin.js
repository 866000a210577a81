// The admin views: the product list, and the form that creates or edits a
// product and its stock. Loaded only when an admin page is visited.

import { h, replace, money, minorDigits, field, alertBox, showAlert, busy, heading, hidden, checkForm, showProblem, markInvalid, needLogin, confirmAction } from './dom.js';
import { catalog, currentUser, sessionReady, uploadImage, IMAGE_TYPES, MAX_IMAGE_BYTES } from './api.js';

const PAGE_SIZE = 25;

/** denied is the view for anyone who is not an admin, or null for an admin. */
async function denied(next) {
  await sessionReady;
  const user = currentUser();
  if (!user) return needLogin(next, 'Log in with an admin account to manage products.');
  if (user.role !== 'admin') {
    return {
      title: 'Admin',
      content: h('section', { class: 'narrow' }, heading('Admins only'),
        h('p', {}, `You are logged in as ${user.name}, who is not an admin of this shop.`)),
    };
  }
  return null;
}

/** products lists the products with their stock, to edit or delete them. */
export async function products({ query, signal, navigate, announce }) {
  const refused = await denied('/admin');
  if (refused) return refused;
  const q = query.get('q') ?? '';
  const cursor = query.get('cursor') ?? '';
  const page = await catalog.products({ q, cursor, limit: PAGE_SIZE }, signal);
  const hash = (params) => {
    const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
    return qs ? `#/admin?${qs}` : '#/admin';
  };

  const form = h('form', {
    class: 'search', role: 'search', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      navigate(hash({ q: form.elements.q.value.trim() }), { focus: 'keep' });
    },
  },
  field({ label: 'Search products', name: 'q', type: 'search', value: q, maxlength: 200, autocomplete: 'off' }),
  h('button', { type: 'submit' }, 'Search'));

  const rows = page.items.map((p) => {
    const tr = h('tr', { 'data-product-id': p.id },
      h('th', { scope: 'row' }, p.name),
      h('td', { 'data-label': 'SKU' }, p.sku),
      h('td', { 'data-label': 'Category' }, p.category),
      h('td', { class: 'num', 'data-label': 'Price' }, money(p.price_cents, p.currency)),
      h('td', { class: 'num', 'data-label': 'Stock' }, String(p.stock)),
      h('td', { class: 'row-actions' },
        h('a', { class: 'button secondary', href: `#/admin/product/${encodeURIComponent(p.id)}` }, 'Edit', hidden(` ${p.name}`)),
        confirmAction({
          label: 'Delete', question: `Delete ${p.name}?`, yes: 'Yes, delete', no: 'Keep', working: 'Deleting…',
          action: async () => {
            await catalog.remove(p.id);
            const next = tr.nextElementSibling ?? tr.previousElementSibling;
            tr.remove();
            announce(`Deleted ${p.name}.`);
            (next?.querySelector('a') ?? document.querySelector('h1')).focus();
          },
        })));
    return tr;
  });

  return {
    title: 'Manage products',
    content: h('section', {},
      h('div', { class: 'page-head' },
        heading('Manage products'),
        h('a', { class: 'button primary', href: '#/admin/new', id: 'new-product' }, 'Add a product')),
      form,
      rows.length
        ? h('table', { class: 'admin-products' },
          h('caption', { class: 'visually-hidden' }, 'Products'),
          h('thead', {}, h('tr', {}, ['Name', 'SKU', 'Category', 'Price', 'Stock'].map((c) => h('th', { scope: 'col' }, c)),
            h('th', { scope: 'col' }, hidden('Actions')))),
          h('tbody', {}, rows))
        : h('p', { class: 'empty' }, q ? `No products match “${q}”.` : 'There are no products yet.'),
      h('nav', { class: 'pager', 'aria-label': 'Pages' },
        cursor && h('a', { class: 'button secondary', href: hash({ q }) }, '← First page'),
        page.next_cursor && h('a', { class: 'button secondary', href: hash({ q, cursor: page.next_cursor }) }, 'Next page →'))),
  };
}

const LABELS = {
  name: 'Name', sku: 'SKU', description: 'Description', price: 'Price',
  currency: 'Currency', stock: 'Stock', category: 'Category',
};

/** parseMinor reads a price typed by a person ("19.99") as minor units (1999), or null. */
function parseMinor(text, currency) {
  const digits = minorDigits(currency);
  const m = /^(\d{1,9})(?:[.,](\d*))?$/.exec(text.trim());
  if (!m || (m[2] ?? '').length > digits) return null;
  return Number(m[1]) * 10 ** digits + Number((m[2] ?? '').padEnd(digits, '0') || 0);
}

function formatMinor(minor, currency) {
  const digits = minorDigits(currency);
  return (minor / 10 ** digits).toFixed(digits);
}

/** edit creates a product (#/admin/new) or edits one (#/admin/product/ID). */
export async function edit({ params: [id], signal, navigate }) {
  const refused = await denied(id ? `/admin/product/${id}` : '/admin/new');
  if (refused) return refused;
  const [p, cats] = await Promise.all([
    id ? catalog.product(id, signal) : null,
    catalog.categories(signal).catch((err) => {
      if (err.name === 'AbortError') throw err;
      return [];
    }),
  ]);
  const box = alertBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, p ? 'Save changes' : 'Create product');
  const description = h('textarea', { rows: 5, maxlength: 5000 });
  description.value = p?.description ?? '';
  const form = h('form', { class: 'stack product-form', novalidate: true, onsubmit: send },
    box,
    field({ label: 'Name', name: 'name', value: p?.name, required: true, maxlength: 200 }),
    field({
      label: 'SKU', name: 'sku', value: p?.sku, required: true, maxlength: 64, pattern: '[A-Za-z0-9._\\-]{1,64}',
      hint: 'Letters, digits, dots, dashes and underscores.', autocapitalize: 'characters', spellcheck: 'false',
    }),
    field({ label: 'Description', name: 'description', control: description }),
    h('div', { class: 'row' },
      field({
        label: 'Price', name: 'price', value: p && formatMinor(p.price_cents, p.currency), required: true,
        inputmode: 'decimal', hint: 'For example 19.99', autocomplete: 'off',
      }),
      field({
        label: 'Currency', name: 'currency', value: p?.currency ?? 'USD', required: true, maxlength: 3,
        pattern: '[A-Z]{3}', hint: 'Three capitals, like USD.', autocapitalize: 'characters', spellcheck: 'false',
      })),
    field({ label: 'Stock', name: 'stock', type: 'number', value: p?.stock ?? 0, required: true, min: 0, max: 1000000, step: 1, inputmode: 'numeric' }),
    field({
      label: 'Category', name: 'category', value: p?.category, required: true, maxlength: 64,
      pattern: '[a-z0-9]+(-[a-z0-9]+)*', list: 'category-options', autocapitalize: 'none', spellcheck: 'false',
      hint: 'Lowercase words joined by dashes, such as kitchen-tools.',
    }),
    h('datalist', { id: 'category-options' }, cats.map((c) => h('option', { value: c.slug }, c.name))),
    h('p', { class: 'actions' }, submit, h('a', { class: 'button secondary', href: '#/admin' }, 'Cancel')));

  async function send(e) {
    e.preventDefault();
    if (!checkForm(form, box)) return;
    const f = form.elements;
    const currency = f.currency.value.trim();
    const price = parseMinor(f.price.value, currency);
    if (price === null) {
      showAlert(box, 'Please correct the highlighted fields.');
      markInvalid(form, 'price', `Price must be an amount with at most ${minorDigits(currency)} decimals, like 19.99.`).focus();
      return;
    }
    const input = {
      name: f.name.value.trim(),
      sku: f.sku.value.trim(),
      description: f.description.value,
      price_cents: price,
      currency,
      stock: Number(f.stock.value),
      category: f.category.value.trim(),
    };
    // An edit sends only what changed, so it cannot undo someone else's
    // change to another field (stock, say) made in the meantime.
    const body = p ? Object.fromEntries(Object.entries(input).filter(([k, v]) => p[k] !== v)) : input;
    if (!Object.keys(body).length) {
      showAlert(box, 'Nothing has changed.');
      return;
    }
    const done = busy(submit, p ? 'Saving…' : 'Creating…');
    try {
      const saved = p ? await catalog.update(p.id, body) : await catalog.create(body);
      navigate('#/admin', { flash: `${p ? 'Saved' : 'Created'} “${saved.name}” (stock ${saved.stock}).` });
    } catch (err) {
      done();
      showProblem(form, box, err, { labels: LABELS, fieldFor: { price_cents: 'price' } });
      if (err.status === 409) markInvalid(form, 'sku', err.message)?.focus();
    }
  }

  return {
    title: p ? `Edit ${p.name}` : 'Add a product',
    content: h('section', { class: 'narrow' },
      h('p', { class: 'back' }, h('a', { href: '#/admin' }, '← All products')),
      heading(p ? `Edit “${p.name}”` : 'Add a product'),
      form,
      p && imagePanel(p)),
  };
}

/**
 * imagePanel shows a product's image and uploads, replaces or removes it,
 * with the upload's progress. The file's type and size are checked here
 * first, so a wrong file is refused before it is sent; the catalog checks
 * again and says why it refuses one.
 */
function imagePanel(p) {
  let current = p.image;
  const box = alertBox();
  const preview = h('div', { class: 'image-preview' });
  const input = h('input', { type: 'file', id: 'image-file', name: 'image', accept: IMAGE_TYPES.join(','), 'aria-describedby': 'image-hint' });
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const status = h('p', { class: 'image-status', role: 'status' });
  const upload = h('button', { type: 'button', class: 'primary', onclick: send });
  const remove = h('button', { type: 'button', class: 'secondary', onclick: drop }, 'Remove image');

  function paint() {
    replace(preview, current
      ? h('img', { src: current.thumbnail_url, alt: `Current image of ${p.name}`, width: current.width, height: current.height })
      : h('p', {}, 'No image yet: the shop shows the name’s initial instead.'));
    upload.textContent = current ? 'Replace image' : 'Upload image';
    remove.hidden = !current;
  }

  async function send() {
    showAlert(box);
    const file = input.files[0];
    if (!file) return showAlert(box, 'Choose an image file first.');
    if (!IMAGE_TYPES.includes(file.type)) return showAlert(box, 'The image must be a JPEG, PNG or WebP file.');
    if (file.size > MAX_IMAGE_BYTES) return showAlert(box, `The image is ${(file.size / 1048576).toFixed(1)} MB; at most 5 MB are accepted.`);
    const done = busy(upload, 'Uploading…');
    progress.value = 0;
    progress.hidden = false;
    status.textContent = 'Uploading… 0%';
    try {
      const saved = await uploadImage(p.id, file, (sent) => {
        progress.value = sent;
        status.textContent = sent < 1 ? `Uploading… ${Math.floor(sent * 100)}%` : 'Processing the image…';
      });
      current = saved.image;
      input.value = '';
      status.textContent = 'Image saved.';
    } catch (err) {
      status.textContent = '';
      showAlert(box, err.message);
    } finally {
      done();
      progress.hidden = true;
      paint();
    }
  }

  async function drop() {
    showAlert(box);
    const done = busy(remove, 'Removing…');
    try {
      await catalog.removeImage(p.id);
      current = null;
      status.textContent = 'Image removed.';
    } catch (err) {
      showAlert(box, err.message);
    } finally {
      done();
      paint();
    }
  }

  paint();
  return h('section', { class: 'stack image-panel', 'aria-labelledby': 'image-heading' },
    h('h2', { id: 'image-heading' }, 'Image'),
    box,
    preview,
    h('div', { class: 'field' },
      h('label', { for: 'image-file' }, 'Image file'),
      input,
      h('p', { class: 'hint', id: 'image-hint' }, 'JPEG, PNG or WebP, up to 5 MB. Location and camera details are removed.')),
    h('p', { class: 'actions' }, upload, remove),
    progress,
    status);
}
