// The shopper's views: the product grid, a product's page and the cart with
// its checkout.

import { h, replace, money, stockLabel, field, alertBox, showAlert, busy, heading, hidden, checkForm } from './dom.js';
import { catalog, orders, currentUser, sessionReady } from './api.js';
import * as cart from './cart.js';

const PAGE_SIZE = 12;
const CATEGORY_TTL = 60_000;

let categoryCache = { at: 0, list: null };

/** categories lists the categories, cached for a minute; an outage yields none. */
async function categories(signal) {
  if (categoryCache.list && Date.now() - categoryCache.at < CATEGORY_TTL) return categoryCache.list;
  try {
    categoryCache = { at: Date.now(), list: await catalog.categories(signal) };
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    return [];
  }
  return categoryCache.list;
}

// The cursors of the pages before the current one, for "Previous": the API
// only links forward. Reset whenever the search changes or the visitor
// arrives at a page some other way (a link, the back button).
let pager = { key: '', at: '', trail: [] };

function listHash({ q, category, cursor }) {
  const p = new URLSearchParams();
  if (q) p.set('q', q);
  if (category) p.set('category', category);
  if (cursor) p.set('cursor', cursor);
  const s = p.toString();
  return s ? `#/?${s}` : '#/';
}

/** list is the home page: search, category filter and a page of products. */
export async function list({ query, signal, navigate, announce }) {
  const q = query.get('q') ?? '';
  const category = query.get('category') ?? '';
  const cursor = query.get('cursor') ?? '';
  const key = `${q}\n${category}`;
  if (pager.key !== key || pager.at !== cursor) pager = { key, at: cursor, trail: [] };

  const [page, cats] = await Promise.all([
    catalog.products({ q, category, cursor, limit: PAGE_SIZE }, signal),
    categories(signal),
  ]);

  const form = h('form', { class: 'search', role: 'search', novalidate: true, onsubmit: search },
    field({ label: 'Search', name: 'q', type: 'search', value: q, maxlength: 200, autocomplete: 'off', enterkeyhint: 'search' }),
    field({
      label: 'Category', name: 'category',
      control: h('select', { onchange: search },
        h('option', { value: '' }, 'All categories'),
        cats.map((c) => h('option', { value: c.slug, selected: c.slug === category }, c.name))),
    }),
    h('button', { type: 'submit' }, 'Search'));

  function search(e) {
    e.preventDefault();
    navigate(listHash({ q: form.elements.q.value.trim(), category: form.elements.category.value }), { focus: 'keep' });
  }

  const catName = cats.find((c) => c.slug === category)?.name ?? category;
  const inCategory = category ? ` in ${catName}` : '';
  const filtered = Boolean(q || category);
  let title = 'All products';
  if (q) title = `Results for “${q}”${inCategory}`;
  else if (category) title = `Products${inCategory}`;

  const pagerNav = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    cursor && h('button', {
      type: 'button', class: 'secondary', id: 'prev-page',
      onclick: () => {
        pager.at = pager.trail.pop() ?? '';
        navigate(listHash({ q, category, cursor: pager.at }), { focus: 'results' });
      },
    }, pager.trail.length ? '← Previous page' : '← First page'),
    page.next_cursor && h('button', {
      type: 'button', class: 'secondary next', id: 'next-page',
      onclick: () => {
        pager.trail.push(cursor);
        pager.at = page.next_cursor;
        navigate(listHash({ q, category, cursor: page.next_cursor }), { focus: 'results' });
      },
    }, 'Next page →'));

  const results = page.items.length
    ? h('ul', { class: 'grid', id: 'product-grid' }, page.items.map((p) => card(p, announce)))
    : h('p', { class: 'empty' }, filtered ? `No products found${q ? ` for “${q}”` : ''}${inCategory}. ` : 'There are no products yet. ',
      filtered && h('a', { href: '#/' }, 'Show all products'));

  return {
    title: filtered ? title : 'Shop',
    content: h('section', {},
      h('div', { class: 'page-head' }, heading('Shop'), form),
      h('h2', { id: 'results', tabindex: '-1' }, title),
      results,
      pagerNav),
    mounted: () => {
      if (filtered || cursor) announce(count(page.items.length), { quiet: true });
      if (page.items.length && !performance.getEntriesByName('bazaar:first-product-grid').length) {
        performance.mark('bazaar:first-product-grid');
      }
    },
  };
}

function count(n) {
  if (n === 0) return 'No products found.';
  return n === 1 ? '1 product shown.' : `${n} products shown.`;
}

// A product without an image gets its initial on one of a few colours,
// derived from the name.
function hue(name) {
  let n = 0;
  for (const ch of name) n = (n * 31 + ch.codePointAt(0)) % 8;
  return n;
}

// The catalog keeps a thumbnail at most THUMBNAIL_SIZE pixels on its longer
// side (services/catalog/imaging), never enlarged.
const THUMBNAIL_SIZE = 400;

/** thumbnailWidth is the width of an image's thumbnail, as the catalog scales it. */
export function thumbnailWidth({ width, height }) {
  if (width <= THUMBNAIL_SIZE && height <= THUMBNAIL_SIZE) return width;
  return width >= height ? THUMBNAIL_SIZE : Math.max(1, Math.floor((width * THUMBNAIL_SIZE) / height));
}

/**
 * thumb is a product's picture: its image, the browser choosing the
 * thumbnail or the full image for the space and the screen's density
 * (srcset), loaded only when it nears the viewport; or, without one, the
 * name's initial.
 */
function thumb(p, big = false) {
  const cls = `thumb${big ? ' big' : ''}`;
  const img = p.image;
  if (img) {
    const tw = thumbnailWidth(img);
    // loading and srcset come before src: the browser picks what to fetch
    // once src is set.
    return h('img', {
      class: `${cls} photo`, loading: big ? 'eager' : 'lazy', decoding: 'async', width: img.width, height: img.height,
      sizes: big ? '(min-width: 45rem) 40vw, 100vw' : '(max-width: 30rem) 50vw, 14rem',
      srcset: tw < img.width ? `${img.thumbnail_url} ${tw}w, ${img.url} ${img.width}w` : null,
      src: big ? img.url : img.thumbnail_url, alt: p.name,
    });
  }
  return h('div', { class: `${cls} hue-${hue(p.name)}`, 'aria-hidden': 'true' },
    [...p.name.trim()][0]?.toUpperCase() ?? '?');
}

function card(p, announce) {
  return h('li', { class: 'card', 'data-product-id': p.id },
    thumb(p),
    h('h3', {}, h('a', { href: `#/product/${encodeURIComponent(p.id)}` }, p.name)),
    h('p', { class: 'price' }, money(p.price_cents, p.currency)),
    h('p', { class: p.stock > 0 ? 'stock' : 'stock out' }, stockLabel(p.stock)),
    addButton(p, () => 1, announce));
}

function addButton(p, quantity, announce, attrs = {}) {
  const soldOut = p.stock <= 0;
  return h('button', {
    type: attrs.type ?? 'button', class: 'add', disabled: soldOut,
    onclick: attrs.type === 'submit' ? null : () => addToCart(p, quantity(), announce),
  }, soldOut ? 'Sold out' : 'Add to cart', hidden(`: ${p.name}`));
}

function addToCart(p, quantity, announce) {
  const added = cart.add(p, quantity);
  if (added) {
    announce(`Added ${added} × ${p.name} to your cart.`);
  } else {
    announce(`Your cart already holds all ${p.stock} of ${p.name} that are in stock.`);
  }
}

/** product is a product's own page. */
export async function product({ params: [id], signal, announce }) {
  const p = await catalog.product(id, signal);
  const box = alertBox();
  const form = h('form', {
    class: 'buy', novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      if (checkForm(form, box)) addToCart(p, Number(form.elements.quantity.value), announce);
    },
  },
  field({ label: 'Quantity', name: 'quantity', type: 'number', value: 1, min: 1, max: Math.max(1, p.stock), step: 1, inputmode: 'numeric', required: true, disabled: p.stock <= 0 }),
  addButton(p, null, announce, { type: 'submit' }),
  box);
  const category = h('a', { href: listHash({ category: p.category }) }, p.category);
  return {
    title: p.name,
    content: h('article', { class: 'product' },
      h('p', { class: 'back' }, h('a', { href: '#/' }, '← All products')),
      h('div', { class: 'product-body' },
        thumb(p, true),
        h('div', {},
          heading(p.name),
          h('p', { class: 'price big' }, money(p.price_cents, p.currency)),
          h('p', { class: p.stock > 0 ? 'stock' : 'stock out' }, stockLabel(p.stock)),
          form,
          p.description && h('p', { class: 'description' }, p.description),
          h('dl', { class: 'facts' }, h('dt', {}, 'Category'), h('dd', {}, category), h('dt', {}, 'SKU'), h('dd', {}, p.sku))))),
  };
}

/**
 * cartPage is the cart page. It looks every product up again, so that prices,
 * names and stock are current, and checks out with an Idempotency-Key: one
 * key per checkout attempt, kept for retries of that attempt, so a double
 * click or a retry after a lost answer places one order.
 */
export async function cartPage({ signal, navigate, announce }) {
  await sessionReady;
  if (!cart.count()) {
    return {
      title: 'Cart',
      content: h('section', { class: 'narrow' }, heading('Your cart'),
        h('p', {}, 'Your cart is empty. ', h('a', { href: '#/' }, 'Browse the products'), '.')),
    };
  }
  const current = new Map(); // product id → Product, null when gone, absent when unknown
  await lookUp(signal);

  async function lookUp(abort) {
    await Promise.all(cart.items().map(async (line) => {
      try {
        const p = await catalog.product(line.id, abort);
        current.set(line.id, p);
        cart.update(p, line.quantity);
      } catch (err) {
        if (err.name === 'AbortError') throw err;
        if (err.status === 404) current.set(line.id, null);
      }
    }));
  }

  const rows = h('ul', { class: 'lines' });
  const total = h('p', { class: 'total' });
  const box = alertBox();

  function row(line) {
    const qty = h('input', {
      type: 'number', id: `qty-${line.id}`, min: 1, max: 1000, step: 1, value: line.quantity, inputmode: 'numeric',
      onchange: () => {
        const n = Number(qty.value);
        if (Number.isInteger(n) && n >= 1) cart.update(current.get(line.id) ?? line, n);
        qty.value = cart.quantityOf(line.id);
        paint();
      },
    });
    const li = h('li', { class: 'line', 'data-product-id': line.id },
      h('div', { class: 'line-name' },
        h('a', { href: `#/product/${encodeURIComponent(line.id)}` }, line.name),
        h('span', { class: 'unit' }, `${money(line.price_cents, line.currency)} each`)),
      h('label', { class: 'qty', for: qty.id }, 'Quantity', hidden(` of ${line.name}`), qty),
      h('span', { class: 'line-total' }),
      h('button', {
        type: 'button', class: 'link danger',
        onclick: () => {
          cart.remove(line.id);
          li.remove();
          announce(`Removed ${line.name} from your cart.`);
          if (!cart.count()) navigate('#/cart');
          else {
            paint();
            rows.querySelector('input')?.focus();
          }
        },
      }, 'Remove', hidden(` ${line.name}`)),
      h('p', { class: 'line-warning' }));
    return li;
  }

  function paint() {
    const sums = new Map();
    for (const line of cart.items()) {
      const li = rows.querySelector(`[data-product-id="${CSS.escape(line.id)}"]`);
      if (!li) continue;
      const sum = line.price_cents * line.quantity;
      sums.set(line.currency, (sums.get(line.currency) ?? 0) + sum);
      li.querySelector('.line-total').textContent = money(sum, line.currency);
      const p = current.get(line.id);
      let warning = '';
      if (p === null) warning = 'This product is no longer sold. Please remove it.';
      else if (p && p.stock <= 0) warning = 'Out of stock. Please remove it.';
      else if (p && line.quantity > p.stock) warning = `Only ${p.stock} left. Please lower the quantity.`;
      li.querySelector('.line-warning').textContent = warning;
    }
    replace(total, 'Total: ', h('strong', {}, [...sums].map(([cur, sum]) => money(sum, cur)).join(' + ')));
  }

  replace(rows, cart.items().map(row));
  paint();

  let checkout;
  if (currentUser()) {
    const button = h('button', { type: 'button', id: 'place-order', class: 'primary' }, 'Place order');
    let attempt = null; // {key, body}: the checkout attempt that a retry continues
    button.addEventListener('click', async () => {
      if (button.disabled) return;
      const items = cart.items().map((l) => ({ product_id: l.id, quantity: l.quantity }));
      const body = JSON.stringify(items);
      if (attempt?.body !== body) attempt = { key: newKey(), body };
      const done = busy(button, 'Placing your order…');
      showAlert(box);
      try {
        const order = await orders.place(items, attempt.key);
        cart.clear();
        navigate(`#/orders/${encodeURIComponent(order.id)}`, { flash: 'Thank you! Your order is confirmed.' });
        return;
      } catch (err) {
        // A definite refusal ends the attempt; after a lost answer or a
        // server error the next click retries it with the same key.
        if (err.status >= 400 && err.status < 500 && err.code !== 'request-in-progress') attempt = null;
        showAlert(box, checkoutError(err));
        if (err.code === 'out-of-stock' || err.status === 422) {
          await lookUp().catch(() => {});
          paint();
        }
      }
      done();
    });
    checkout = h('div', { class: 'checkout' }, button);
  } else {
    checkout = h('p', { class: 'checkout' }, 'To place your order, ',
      h('a', { href: '#/login?next=/cart' }, 'log in'), ' or ',
      h('a', { href: '#/register?next=/cart' }, 'create an account'), '.');
  }

  return {
    title: 'Cart',
    content: h('section', { class: 'narrow' },
      heading('Your cart'), rows, total, box, checkout),
  };
}

function checkoutError(err) {
  switch (true) {
    case err.code === 'out-of-stock':
      return `Sorry, we do not have enough stock for your order, so nothing was ordered. ${err.message} The lines to change are marked above.`;
    case err.status === 422:
      return `Some products in your cart cannot be ordered: ${err.message}`;
    case err.status === 401:
      return 'Your session has expired. Please log in again to place your order.';
    case err.code === 'request-in-progress':
      return 'Your order is still being placed. Please wait a moment before trying again.';
    case err.status === 0 || err.status >= 500:
      return `${err.message} Trying again will not place a second order.`;
    default:
      return err.message;
  }
}

/** newKey returns a random UUID; crypto.randomUUID exists in secure contexts only. */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
