// The API client and the session.
//
// The access token lives in this module's memory only, so a reload forgets
// it; the session survives in the refresh token, an HttpOnly cookie that page
// scripts never see and that the users service rotates on every refresh.

let token = null;
let tokenExpiresAt = 0;
let user = null;
let refreshing = null;
const listeners = new Set();

/** ApiError is a failed request, carrying the problem+json details the API sent. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super(problem?.detail || problem?.title || fallbackDetail(status));
    this.status = status;
    this.type = problem?.type ?? '';
    this.fields = Array.isArray(problem?.errors) ? problem.errors : [];
    this.retryAfter = retryAfter;
  }

  /** code is the last segment of the problem type, such as "out-of-stock". */
  get code() {
    return this.type.split('/').pop();
  }
}

// How long a request may take before the page gives up and says so.
const TIMEOUT_MS = 15_000;

function fallbackDetail(status) {
  if (status === 0) return 'The shop cannot be reached. Check your connection and try again.';
  if (status === 408) return 'The shop took too long to answer. Please try again.';
  if (status === 429) return 'Too many attempts. Please wait a moment and try again.';
  if (status >= 500) return 'The shop is having trouble right now. Please try again in a moment.';
  return `The request failed (error ${status}).`;
}

/** currentUser is the signed-in user ({id, email, name, role}) or null. */
export function currentUser() {
  return user;
}

/** onSessionChange calls fn whenever someone signs in or out. */
export function onSessionChange(fn) {
  listeners.add(fn);
}

function setUser(next) {
  user = next;
  for (const fn of listeners) fn(user);
}

function acceptTokens(t) {
  token = t.access_token;
  tokenExpiresAt = Date.now() + t.expires_in * 1000;
}

function forget() {
  token = null;
  tokenExpiresAt = 0;
  if (user) setUser(null);
}

/**
 * refresh trades the refresh cookie for a new access token. Only one refresh
 * runs at a time, across tabs too (Web Locks): the cookie rotates, and a
 * second refresh with the old cookie would look like token theft.
 */
function refresh() {
  refreshing ??= withLock(refreshNow).finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withLock(fn) {
  return navigator.locks ? navigator.locks.request('bazaar-session', fn) : fn();
}

async function refreshNow() {
  let res;
  try {
    res = await fetch('/api/users/refresh', {
      method: 'POST', headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    return false; // offline: keep what we have and let the caller report it
  }
  if (!res.ok) {
    if (res.status === 401 || res.status === 400) forget();
    return false;
  }
  acceptTokens(await res.json());
  return true;
}

async function loadUser() {
  try {
    setUser(await request('/api/users/me', { auth: true }));
  } catch {
    forget();
  }
}

/** sessionReady settles once the session of an earlier visit is restored (or found absent). */
export const sessionReady = refresh().then((ok) => (ok ? loadUser() : undefined));

/**
 * request sends a JSON request and returns the decoded answer, or throws an
 * ApiError. With auth, it sends the access token and, when the token has
 * expired, refreshes it once and retries: a 401 means the request was not
 * processed, so the retry is safe (an order keeps its Idempotency-Key).
 */
export async function request(path, { method = 'GET', body, headers = {}, auth = false, signal } = {}) {
  if (auth && token && Date.now() > tokenExpiresAt - 30_000) await refresh();
  const send = () => {
    const h = { Accept: 'application/json', ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (auth && token) h.Authorization = `Bearer ${token}`;
    const timeout = AbortSignal.timeout(TIMEOUT_MS);
    return fetch(path, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
      signal: signal && AbortSignal.any ? AbortSignal.any([signal, timeout]) : signal ?? timeout,
    });
  };
  let res;
  try {
    res = await send();
    if (auth && res.status === 401 && (await refresh())) res = await send();
  } catch (err) {
    if (err.name === 'AbortError') throw err; // the view was left: nobody waits for the answer
    throw new ApiError(err.name === 'TimeoutError' ? 408 : 0, null);
  }
  if (auth && res.status === 401) forget();
  if (res.status === 204) return null;
  const isJSON = /json/.test(res.headers.get('Content-Type') ?? '');
  const data = isJSON ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const id = encodeURIComponent;

/** login signs in and loads the user. */
export async function login(email, password) {
  acceptTokens(await request('/api/users/login', { method: 'POST', body: { email, password } }));
  await loadUser();
}

/** register creates an account and signs in with it. */
export async function register(name, email, password) {
  await request('/api/users/register', { method: 'POST', body: { name, email, password } });
  await login(email, password);
}

/** logout ends the session on the server (the cookie is cleared) and here. */
export async function logout() {
  try {
    await request('/api/users/logout', { method: 'POST' });
  } finally {
    forget();
  }
}

export const catalog = {
  products: ({ q, category, cursor, limit } = {}, signal) =>
    request(`/api/catalog/products${query({ q, category, cursor, limit })}`, { signal }),
  product: (productId, signal) => request(`/api/catalog/products/${id(productId)}`, { signal }),
  categories: (signal) => request('/api/catalog/categories', { signal }),
  create: (body) => request('/api/catalog/products', { method: 'POST', body, auth: true }),
  update: (productId, body) => request(`/api/catalog/products/${id(productId)}`, { method: 'PATCH', body, auth: true }),
  remove: (productId) => request(`/api/catalog/products/${id(productId)}`, { method: 'DELETE', auth: true }),
  removeImage: (productId) => request(`/api/catalog/products/${id(productId)}/image`, { method: 'DELETE', auth: true }),
};

/** IMAGE_TYPES and MAX_IMAGE_BYTES are what the catalog takes as a product image. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/**
 * uploadImage sends a file as a product's image and returns the product.
 * It uses XMLHttpRequest, whose upload reports progress (fetch's does not):
 * onProgress gets the fraction sent, from 0 to 1.
 */
export async function uploadImage(productId, file, onProgress) {
  if (token && Date.now() > tokenExpiresAt - 30_000) await refresh();
  const send = () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/catalog/products/${id(productId)}/image`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', file.type);
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total); };
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new ApiError(0, null));
    xhr.ontimeout = () => reject(new ApiError(408, null));
    xhr.timeout = 120_000;
    xhr.send(file);
  });
  let xhr = await send();
  if (xhr.status === 401 && (await refresh())) xhr = await send();
  if (xhr.status === 401) forget();
  let data = null;
  try {
    data = JSON.parse(xhr.responseText);
  } catch {
    // not JSON: ApiError says what the status means
  }
  if (xhr.status < 200 || xhr.status > 299) throw new ApiError(xhr.status, data, xhr.getResponseHeader('Retry-After'));
  return data;
}

export const orders = {
  place: (items, idempotencyKey) =>
    request('/api/orders', { method: 'POST', body: { items }, auth: true, headers: { 'Idempotency-Key': idempotencyKey } }),
  list: (cursor, signal) => request(`/api/orders${query({ cursor })}`, { auth: true, signal }),
  get: (orderId, signal) => request(`/api/orders/${id(orderId)}`, { auth: true, signal }),
  cancel: (orderId) => request(`/api/orders/${id(orderId)}/cancel`, { method: 'POST', auth: true }),
};
