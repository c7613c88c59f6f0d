// The registry's web UI: a client of this origin's distribution API
// (distribution-spec v1.1), so it shows exactly what the signed-in user may
// pull. Pages are hash routes, so every page can be linked:
//   #/                      repositories (the catalog, paged by Link headers)
//   #/r/<repo>              a repository's tags
//   #/r/<repo>/t/<tag>      a tag: its manifest, platforms or layers, config,
//                           history, referrers, pull commands; delete the tag
//   #/r/<repo>/m/<digest>   the same for a manifest by digest
// A repository whose name itself ends in "/t/<x>" or "/m/<x>" gets a
// trailing slash on its own page's route, so routes stay unambiguous.
//
// The server's Content-Security-Policy allows no inline script or style:
// everything is built with DOM calls, and data only ever goes into the page
// as text (textContent / text nodes), never as HTML.

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];
const INDEX_TYPES = new Set([MANIFEST_TYPES[0], MANIFEST_TYPES[2]]);
const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

// The reference grammar of distribution-spec ("Pulling manifests"): a route
// that does not match is refused before it reaches a request path.
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

// Catalog and tag-list page size; ?n=N on the UI's own URL changes it
// (small pages make the Link-header paging visible).
const PAGE_SIZE = Math.min(Math.max(parseInt(new URLSearchParams(location.search).get('n'), 10) || 100, 1), 1000);
const MAX_PAGES = 500; // a bound on one listing's requests
const CHILD_FETCHES = 6; // an index's child manifests fetched at once

// ---------------------------------------------------------------------------
// DOM

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'test') el.dataset.test = v;
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  put(el, ...children);
  return el;
}

// put(el, ...children): appends strings as text nodes, nodes as they are.
function put(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function replace(el, ...children) {
  el.replaceChildren();
  return put(el, ...children);
}

const main = document.getElementById('main');

// ---------------------------------------------------------------------------
// Formatting

function humanSize(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function exactSize(n) {
  return `${n.toLocaleString('en-US')} bytes`;
}

// A size as "1.23 MiB" with the exact byte count beside it.
function sizeCell(n, test) {
  if (typeof n !== 'number') return h('span', { class: 'muted', test }, '—');
  return h('span', { class: 'size', test, title: exactSize(n) },
    humanSize(n), ' ', h('span', { class: 'exact' }, `(${exactSize(n)})`));
}

function platformName(p) {
  if (!p) return '';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') +
    (p['os.version'] ? ` (${p['os.version']})` : '');
}

function shortDigest(d) {
  const [alg, hex] = d.split(':');
  return hex ? `${alg}:${hex.slice(0, 12)}` : d;
}

// Docker's and OCI's exec forms are arrays, shell forms strings.
function argv(v) {
  if (v == null) return null;
  return Array.isArray(v) ? JSON.stringify(v) : String(v);
}

// ---------------------------------------------------------------------------
// Routes

function repoHref(repo) {
  return `#/r/${repo}${/\/[tm]\/[^/]+$/.test(repo) ? '/' : ''}`;
}
const tagHref = (repo, tag) => `#/r/${repo}/t/${tag}`;
const digestHref = (repo, digest) => `#/r/${repo}/m/${digest}`;

function parseRoute(hash) {
  let p = hash.replace(/^#\/?/, '');
  try {
    p = decodeURIComponent(p);
  } catch {
    return { page: 'bad', what: 'address' };
  }
  if (p === '') return { page: 'catalog' };
  if (!p.startsWith('r/')) return { page: 'bad', what: 'address' };
  const rest = p.slice(2);
  let m;
  let route;
  if ((m = rest.match(/^(.+)\/t\/([^/]+)$/))) route = { page: 'manifest', repo: m[1], tag: m[2], ref: m[2] };
  else if ((m = rest.match(/^(.+)\/m\/([^/]+)$/))) route = { page: 'manifest', repo: m[1], ref: m[2] };
  else route = { page: 'repo', repo: rest.replace(/\/$/, '') };
  if (!NAME_RE.test(route.repo)) return { page: 'bad', what: 'repository name' };
  if (route.tag != null && !TAG_RE.test(route.tag)) return { page: 'bad', what: 'tag' };
  if (route.page === 'manifest' && route.tag == null && !DIGEST_RE.test(route.ref)) {
    return { page: 'bad', what: 'digest' };
  }
  return route;
}

// ---------------------------------------------------------------------------
// Credentials and the API
//
// Credentials live in sessionStorage only (gone with the tab); bearer tokens
// only in memory. Requests go out with credentials: 'omit', so the browser
// neither adds cached credentials nor opens its own sign-in dialog on a
// Basic challenge (Fetch, "HTTP-network-or-cache fetch", 401 handling): this
// page's form answers it instead, with an explicit Authorization header.

const CREDENTIALS_KEY = 'hoist.credentials';
const tokens = new Map(); // "<repo>:pull" | "<repo>:delete" | "catalog" -> {value, expires}
let scheme = null; // 'basic' | 'bearer', once a challenge said which
let schemeProbe = null;

function credentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(CREDENTIALS_KEY));
    return c && typeof c.user === 'string' && typeof c.pass === 'string' ? c : null;
  } catch {
    return null;
  }
}

function signIn(user, pass) {
  sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify({ user, pass }));
  tokens.clear();
}

function signOut() {
  sessionStorage.removeItem(CREDENTIALS_KEY);
  tokens.clear();
}

function basic({ user, pass }) {
  const bytes = new TextEncoder().encode(`${user}:${pass}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

class ApiError extends Error {
  // kind: 'signin' (not signed in), 'badcredentials', 'denied', 'other'
  constructor(status, code, message, kind) {
    super(message);
    this.status = status;
    this.code = code;
    this.kind = kind;
  }
}

function describe(e) {
  if (!(e instanceof ApiError)) return e.message || String(e);
  switch (e.kind) {
    case 'signin': return 'Sign in to see this.';
    case 'badcredentials': return 'The registry did not accept this username and password.';
    case 'denied': return `Not allowed: ${e.message}`;
    default: return `${e.message} (${e.code ? `${e.code}, ` : ''}HTTP ${e.status})`;
  }
}

// WWW-Authenticate: <scheme> k="v",k=v (RFC 9110 11.6.1, one challenge).
function parseChallenge(header) {
  const m = (header || '').match(/^\s*(\S+)\s*(.*)$/);
  if (!m) return { scheme: '', params: {} };
  const params = {};
  for (const p of m[2].matchAll(/([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g)) {
    params[p[1].toLowerCase()] = p[2] != null ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

// Which token a request needs: its repository and whether it reads or deletes.
function tokenKey(method, path) {
  if (path.startsWith('/v2/_catalog')) return 'catalog';
  const m = path.match(/^\/v2\/(.+)\/(?:tags|manifests|blobs|referrers)\//);
  return m ? `${m[1]}:${method === 'DELETE' ? 'delete' : 'pull'}` : path;
}

function presetAuthorization(key) {
  const cred = credentials();
  if (scheme === 'basic' && cred) return basic(cred);
  const t = tokens.get(key);
  if (scheme === 'bearer' && t && t.expires > Date.now()) return `Bearer ${t.value}`;
  return null;
}

function send(path, method, headers, authorization) {
  const hs = { ...headers };
  if (authorization) hs.Authorization = authorization;
  return fetch(path, { method, headers: hs, credentials: 'omit', cache: 'no-store' });
}

// The token specification's GET to the realm, with the user's Basic
// credentials when signed in (anonymous otherwise).
async function fetchToken(realm, service, scopes, cred) {
  const url = new URL(realm, location.href);
  if (service) url.searchParams.set('service', service);
  for (const s of scopes) url.searchParams.append('scope', s);
  let resp;
  try {
    resp = await fetch(url, { headers: cred ? { Authorization: basic(cred) } : {}, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new Error(`Cannot reach the token service at ${url.origin}${url.pathname} (this page may only talk to its own origin).`);
  }
  if (resp.status === 401) throw new ApiError(401, 'UNAUTHORIZED', 'token refused', cred ? 'badcredentials' : 'signin');
  if (!resp.ok) throw new ApiError(resp.status, '', `the token service answered HTTP ${resp.status}`, 'other');
  const body = await resp.json();
  const value = body.token || body.access_token;
  if (!value) throw new Error('The token service answered without a token.');
  const life = Number(body.expires_in) > 0 ? Number(body.expires_in) : 60;
  return { value, expires: Date.now() + Math.max(life - 10, 5) * 1000 };
}

// GET /v2/ without credentials: its challenge names the scheme (none: the
// registry has no accounts). Asked once per page load.
function learnScheme() {
  schemeProbe ??= send('/v2/', 'GET', {}, null).then((resp) => {
    if (resp.status === 401) scheme ??= parseChallenge(resp.headers.get('WWW-Authenticate')).scheme || null;
  }, () => {});
  return schemeProbe;
}

// What to send after a 401: Basic credentials, or a bearer token for the
// challenge's scope; null when there is nothing new to try.
async function answerChallenge(challenge, key, sent) {
  const cred = credentials();
  if (challenge.scheme === 'basic') {
    scheme = 'basic';
    const a = cred ? basic(cred) : null;
    return a !== sent ? a : null;
  }
  if (challenge.scheme === 'bearer' && challenge.params.realm) {
    scheme = 'bearer';
    const scopes = (challenge.params.scope || '').split(' ').filter(Boolean);
    if (key === 'catalog' && !scopes.includes('registry:catalog:*')) scopes.push('registry:catalog:*');
    const token = await fetchToken(challenge.params.realm, challenge.params.service, scopes, cred);
    tokens.set(key, token);
    const a = `Bearer ${token.value}`;
    return a !== sent ? a : null;
  }
  return null;
}

async function errorOf(resp) {
  let code = '';
  let message = '';
  try {
    const e = (await resp.json()).errors?.[0];
    code = e?.code || '';
    message = e?.message || '';
  } catch {
    // not the spec's error body: the status says enough
  }
  const signedIn = credentials() != null;
  let kind = 'other';
  if (resp.status === 403) kind = 'denied';
  if (resp.status === 401) {
    if (!signedIn) kind = 'signin';
    else kind = scheme === 'bearer' ? 'denied' : 'badcredentials'; // a token without the scope
  }
  return new ApiError(resp.status, code, message || `HTTP ${resp.status}`, kind);
}

// api(path, options): the response, after answering one 401 challenge;
// throws ApiError for any other status than 2xx.
async function api(path, { method = 'GET', accept } = {}) {
  const headers = accept ? { Accept: accept } : {};
  const key = tokenKey(method, path);
  // Signed in, but no challenge seen since the page loaded: learn the scheme
  // first, since the catalog answers anonymous callers without one.
  if (!scheme && credentials()) await learnScheme();
  const preset = presetAuthorization(key);
  let resp = await send(path, method, headers, preset);
  if (resp.status === 401) {
    const next = await answerChallenge(parseChallenge(resp.headers.get('WWW-Authenticate')), key, preset);
    if (next) resp = await send(path, method, headers, next);
  }
  if (!resp.ok) throw await errorOf(resp);
  return resp;
}

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

// The next page's path from an RFC 8288 Link header, if on this origin.
function nextLink(resp) {
  const m = (resp.headers.get('Link') || '').match(/<([^>]+)>\s*;\s*rel="?next"?/);
  if (!m) return null;
  const u = new URL(m[1], location.origin);
  return u.origin === location.origin ? u.pathname + u.search : null;
}

// One page of a list (the catalog's repositories or a repository's tags)
// and the path of the next page, if any.
async function listPage(path, field) {
  const resp = await api(path);
  return { items: (await resp.json())[field] || [], next: nextLink(resp) };
}

// ---------------------------------------------------------------------------
// Header: who is signed in

function renderAuth() {
  const nav = document.getElementById('auth');
  const cred = credentials();
  if (cred) {
    replace(nav,
      h('span', { class: 'muted' }, 'Signed in as '), h('strong', { test: 'whoami' }, cred.user), ' ',
      h('button', { class: 'link', type: 'button', test: 'sign-out', onclick: () => { signOut(); route(); } }, 'Sign out'));
  } else {
    replace(nav, h('button', { class: 'link', type: 'button', test: 'sign-in', onclick: () => renderSignIn('') }, 'Sign in'));
  }
}

let lastUser = ''; // offered again after a refused sign-in

function renderSignIn(message) {
  generation++; // a page still loading must not replace the form
  renderAuth();
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, test: 'username', value: lastUser });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', test: 'password' });
  const form = h('form', { class: 'signin', test: 'sign-in-form' },
    h('h1', {}, 'Sign in'),
    message ? h('p', { class: 'error', test: 'sign-in-error' }, message) : null,
    h('label', { for: 'username' }, 'Username'), user,
    h('label', { for: 'password' }, 'Password'), pass,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', test: 'sign-in-submit' }, 'Sign in'),
      h('button', { type: 'button', class: 'link', test: 'sign-in-cancel', onclick: home }, 'Cancel')),
    h('p', { class: 'muted small' }, 'Your credentials stay in this tab (session storage) until you sign out or close it.'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    lastUser = user.value;
    signIn(user.value, pass.value);
    route();
  });
  replace(main, form);
  (lastUser ? pass : user).focus();
}

function home() {
  if (parseRoute(location.hash).page === 'catalog') route();
  else location.hash = '#/';
}

// ---------------------------------------------------------------------------
// Pages

let generation = 0; // bumps on every navigation; late answers for old pages are dropped
let flash = null; // a message for the next page (after a deletion)

function crumbs(...parts) {
  const nav = h('nav', { class: 'crumbs', test: 'crumbs' }, h('a', { href: '#/' }, 'Repositories'));
  for (const [text, href] of parts) put(nav, h('span', { class: 'sep' }, '/'), href ? h('a', { href }, text) : h('span', {}, text));
  return nav;
}

function errorBox(e) {
  return h('p', { class: 'error', test: 'error' }, describe(e));
}

function filterBox(placeholder, test, onInput) {
  return h('input', { type: 'search', class: 'filter', placeholder, test, 'aria-label': placeholder, oninput: onInput });
}

// A filtered list of links that grows as pages arrive.
function linkList({ noun, nouns, placeholder, listTest, linkTest, countTest, filterTest, href }) {
  const items = [];
  let loading = true;
  const count = h('p', { class: 'muted', test: countTest });
  const list = h('ul', { class: 'links', test: listTest });
  const filter = filterBox(placeholder, filterTest, () => draw());
  function draw() {
    const q = filter.value.trim().toLowerCase();
    const shown = q ? items.filter((x) => x.toLowerCase().includes(q)) : items;
    replace(list, shown.map((x) => h('li', {}, h('a', { href: href(x), test: linkTest }, x))));
    const total = `${items.length} ${items.length === 1 ? noun : nouns}`;
    replace(count, q ? `${shown.length} of ${total} match` : total, loading ? ' (loading…)' : '');
  }
  draw();
  return {
    node: [filter, count, list],
    filter,
    add(page) { items.push(...page); draw(); },
    done(more) {
      loading = false;
      draw();
      if (more) put(count, ` — the first ${MAX_PAGES} pages only`);
    },
  };
}

// The pages after `first` into view, while its page is still shown.
async function listRest(first, field, view, gen) {
  let next = first.next;
  for (let i = 1; next && i < MAX_PAGES && gen === generation; i++) {
    const page = await listPage(next, field);
    view.add(page.items);
    next = page.next;
  }
  view.done(next != null);
}

async function catalogPage(gen) {
  const view = linkList({
    noun: 'repository', nouns: 'repositories', placeholder: 'Search repositories', listTest: 'repo-list', linkTest: 'repo-link',
    countTest: 'repo-count', filterTest: 'search', href: repoHref,
  });
  // The first page decides between the list and the sign-in form.
  const first = await listPage(`/v2/_catalog?n=${PAGE_SIZE}`, 'repositories');
  // The catalog lists only what the caller may pull, so an anonymous
  // visitor may see nothing where a signed-in user sees everything.
  let note = null;
  if (await registryWantsSignIn()) {
    if (first.items.length === 0 && !first.next) throw new ApiError(401, 'UNAUTHORIZED', 'sign in', 'signin');
    note = h('p', { class: 'muted', test: 'anonymous-note' }, 'Not signed in: this list shows only what anyone may pull. ',
      h('button', { class: 'link', type: 'button', onclick: () => renderSignIn('') }, 'Sign in'), ' to see more.');
  }
  if (gen !== generation) return;
  replace(main, h('h1', {}, 'Repositories'), note, view.node);
  view.filter.focus();
  view.add(first.items);
  await listRest(first, 'repositories', view, gen);
}

// True when nobody is signed in and the registry has accounts.
async function registryWantsSignIn() {
  if (credentials()) return false;
  if (!scheme) await learnScheme();
  return scheme != null;
}

async function repoPage(gen, repo) {
  const view = linkList({
    noun: 'tag', nouns: 'tags', placeholder: 'Filter tags', listTest: 'tag-list', linkTest: 'tag-link',
    countTest: 'tag-count', filterTest: 'tag-filter', href: (t) => tagHref(repo, t),
  });
  const first = await listPage(`/v2/${repo}/tags/list?n=${PAGE_SIZE}`, 'tags');
  if (gen !== generation) return;
  const note = flash ? h('p', { class: 'flash', test: 'flash' }, flash) : null;
  flash = null;
  replace(main, crumbs([repo]), note, h('h1', { test: 'repo-name' }, repo), view.node);
  view.add(first.items);
  await listRest(first, 'tags', view, gen);
}

// A definition list from [label, value, test] rows; rows without a value
// are left out.
function facts(rows, test) {
  const dl = h('dl', { class: 'facts', test });
  for (const [label, value, t] of rows) {
    if (value == null || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    put(dl, h('dt', {}, label), h('dd', { test: t }, value));
  }
  return dl;
}

function section(title, test, ...children) {
  return h('section', { test }, h('h2', {}, title), children);
}

function code(text, test) {
  return h('code', { class: 'digest', test }, text);
}

async function copyText(text, codeEl, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    // No clipboard (an insecure origin, or refused): select it for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(codeEl);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    button.textContent = 'Selected: press Ctrl+C';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 2000);
}

function pullCommand(text, test) {
  const c = h('code', { class: 'cmd', test }, text);
  const b = h('button', { type: 'button', class: 'copy', test: `copy-${test}` }, 'Copy');
  b.addEventListener('click', () => copyText(text, c, b));
  return h('div', { class: 'pull' }, c, b);
}

function table(headers, rows, test) {
  return h('table', { test },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows));
}

// Runs fn over items, at most `limit` at once.
async function eachLimited(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// The digest of bytes; null where Web Crypto is not offered (pages served
// over plain HTTP from a non-loopback host are not a secure context).
async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) return null;
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return `sha256:${Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

async function fetchManifest(repo, ref) {
  const resp = await api(`/v2/${repo}/manifests/${ref}`, { accept: MANIFEST_TYPES.join(', ') });
  const bytes = new Uint8Array(await resp.arrayBuffer());
  const json = JSON.parse(new TextDecoder().decode(bytes));
  const digest = resp.headers.get('Docker-Content-Digest') || (DIGEST_RE.test(ref) ? ref : await sha256(bytes));
  const mediaType = json.mediaType || (resp.headers.get('Content-Type') || '').split(';')[0];
  return { json, digest, mediaType, size: bytes.length };
}

// The blobs a manifest needs (config and layers), by digest.
function blobsOf(manifest) {
  const out = new Map();
  for (const d of [manifest.config, ...(manifest.layers || [])]) if (d?.digest) out.set(d.digest, d.size);
  return out;
}

const sum = (sizes) => [...sizes.values()].reduce((a, b) => a + (Number(b) || 0), 0);

async function manifestPage(gen, { repo, tag, ref }) {
  const m = await fetchManifest(repo, ref);
  if (gen !== generation) return;
  const isIndex = INDEX_TYPES.has(m.mediaType) || Array.isArray(m.json.manifests);
  const title = tag ? `${repo}:${tag}` : `${repo}@${shortDigest(ref)}`;
  const totalCell = h('dd', { test: 'total-size' }, h('span', { class: 'muted' }, 'computing…'));
  const summary = facts([
    ['Media type', code(m.mediaType, 'media-type')],
    ['Artifact type', m.json.artifactType ? code(m.json.artifactType, 'artifact-type') : null],
    ['Digest', m.digest ? code(m.digest, 'digest') : h('span', { class: 'muted' }, 'unknown (no Docker-Content-Digest)')],
    ['Manifest size', sizeCell(m.size, 'manifest-size')],
    ['Refers to', m.json.subject?.digest
      ? h('a', { href: digestHref(repo, m.json.subject.digest), test: 'subject-link' }, code(m.json.subject.digest)) : null],
  ], 'summary');
  put(summary, h('dt', { title: 'config and layers, each blob counted once' }, 'Total size'), totalCell);
  const annotations = Object.entries(m.json.annotations || {});
  if (annotations.length) {
    put(summary, h('dt', {}, 'Annotations'),
      h('dd', {}, h('ul', { class: 'plain' }, annotations.map(([k, v]) => h('li', { test: 'annotation' }, `${k}=${v}`)))));
  }

  const pulls = h('div', { class: 'pulls', test: 'pull' });
  if (tag) put(pulls, pullCommand(`docker pull ${location.host}/${repo}:${tag}`, 'pull-tag'));
  if (m.digest) put(pulls, pullCommand(`docker pull ${location.host}/${repo}@${m.digest}`, 'pull-digest'));

  const deletion = tag ? deleteControl(repo, tag) : null;
  const body = h('div', {});
  const referrers = h('section', { test: 'referrers' }, h('h2', {}, 'Referrers'), h('p', { class: 'muted' }, 'Loading…'));
  const scan = h('section', { test: 'scan', hidden: true });
  replace(main,
    crumbs([repo, repoHref(repo)], [tag ? tag : shortDigest(ref)]),
    h('div', { class: 'titlebar' }, h('h1', { test: 'title' }, title), deletion?.button),
    deletion?.bar, summary, pulls, body, scan, referrers);

  const work = [loadReferrers(repo, m.digest, referrers), loadScan(repo, m.digest, scan)];
  if (isIndex) work.push(renderIndex(repo, m.json, body, totalCell));
  else work.push(renderImage(repo, m.json, body, totalCell));
  await Promise.all(work);
}

async function renderIndex(repo, index, body, totalCell) {
  const children = index.manifests || [];
  const rows = children.map((d) => {
    const name = platformName(d.platform) || d.artifactType ||
      d.annotations?.['vnd.docker.reference.type'] || '(no platform)';
    const size = h('td', {}, h('span', { class: 'muted' }, '…'));
    const tr = h('tr', { test: 'platform' },
      h('td', {}, h('a', { href: digestHref(repo, d.digest), test: 'platform-link' }, name)),
      h('td', {}, code(d.digest, 'platform-digest'), h('div', { class: 'type', test: 'platform-type' }, d.mediaType || '')),
      size);
    return { d, tr, size };
  });
  put(body, section('Platforms', 'platforms',
    table(['Platform', 'Digest and media type', 'Image size'], rows.map((r) => r.tr), 'platform-table')));
  // Each child's own config and layers: its size here, and the index's
  // total with blobs the platforms share counted once.
  const blobs = new Map();
  let missing = 0;
  await eachLimited(rows, CHILD_FETCHES, async (r) => {
    try {
      const child = await fetchManifest(repo, r.d.digest);
      const own = blobsOf(child.json);
      for (const [k, v] of own) blobs.set(k, v);
      replace(r.size, sizeCell(sum(own), 'platform-size'));
    } catch (e) {
      missing++;
      replace(r.size, h('span', { class: 'muted' }, e instanceof ApiError && e.status === 404 ? 'not in this registry' : describe(e)));
    }
  });
  replace(totalCell, sizeCell(sum(blobs), 'total-size-value'),
    missing ? h('span', { class: 'muted' }, ` (without ${missing} manifest${missing === 1 ? '' : 's'} that could not be read)`) : null);
}

async function renderImage(repo, manifest, body, totalCell) {
  replace(totalCell, sizeCell(sum(blobsOf(manifest)), 'total-size-value'));
  const layers = manifest.layers || [];
  const configSection = h('section', { test: 'config' }, h('h2', {}, 'Configuration'));
  const historySection = h('section', { test: 'history' }, h('h2', {}, 'History'));
  const isImage = IMAGE_CONFIG_TYPES.has(manifest.config?.mediaType);
  put(body,
    isImage ? configSection : null,
    section(isImage ? 'Layers' : 'Blobs', 'layers', table(['#', 'Digest', 'Media type', 'Size'],
      layers.map((l, i) => h('tr', { test: 'layer' },
        h('td', { class: 'num' }, String(i + 1)),
        h('td', {}, code(l.digest, 'layer-digest')),
        h('td', { class: 'type', test: 'layer-type' }, l.mediaType || ''),
        h('td', {}, sizeCell(l.size, 'layer-size')))), 'layer-table')),
    isImage ? historySection : null);
  if (!isImage) {
    if (manifest.config) {
      put(body, section('Config blob', 'config-descriptor', facts([
        ['Media type', code(manifest.config.mediaType || '', 'config-type')],
        ['Digest', code(manifest.config.digest || '', 'config-digest')],
        ['Size', sizeCell(manifest.config.size, 'config-size')],
      ])));
    }
    return;
  }
  let config;
  try {
    config = await apiJson(`/v2/${repo}/blobs/${manifest.config.digest}`);
  } catch (e) {
    put(configSection, errorBox(e));
    historySection.remove();
    return;
  }
  const c = config.config || {};
  const lines = (items, test) => (items?.length ? h('ul', { class: 'plain' }, items.map((x) => h('li', { test }, code(x)))) : null);
  put(configSection, facts([
    ['Platform', platformName(config), 'config-platform'],
    ['Created', config.created, 'created'],
    ['Author', config.author, 'author'],
    ['Env', lines(c.Env, 'env'), 'env-list'],
    ['Entrypoint', argv(c.Entrypoint) && code(argv(c.Entrypoint)), 'entrypoint'],
    ['Cmd', argv(c.Cmd) && code(argv(c.Cmd)), 'cmd'],
    ['WorkingDir', c.WorkingDir && code(c.WorkingDir), 'workdir'],
    ['User', c.User && code(c.User), 'user'],
    ['Exposed ports', lines(Object.keys(c.ExposedPorts || {}), 'port')],
    ['Volumes', lines(Object.keys(c.Volumes || {}), 'volume')],
    ['Stop signal', c.StopSignal],
    ['Labels', lines(Object.entries(c.Labels || {}).map(([k, v]) => `${k}=${v}`), 'label')],
    ['Config blob', code(manifest.config.digest), 'config-digest'],
  ], 'config-facts'));
  // Entries without empty_layer made the layers, in order.
  let layer = 0;
  const rows = (config.history || []).map((e) => {
    const n = e.empty_layer ? null : ++layer;
    return h('tr', { test: 'history-row' },
      h('td', { class: 'num' }, n == null ? '' : String(n)),
      h('td', { class: 'nowrap small' }, e.created || ''),
      h('td', {}, h('code', { class: 'cmdline', test: 'history-created-by' }, e.created_by || ''),
        e.comment ? h('div', { class: 'muted small' }, e.comment) : null),
      h('td', {}, e.empty_layer ? h('span', { class: 'badge', test: 'empty-layer' }, 'empty layer') : ''));
  });
  put(historySection, rows.length
    ? table(['Layer', 'Created', 'Created by', ''], rows, 'history-table')
    : h('p', { class: 'muted' }, 'The config has no history.'));
}

// The registry's last vulnerability scan of this manifest (serve
// --scan-db); the section stays hidden when scans are off or none ran yet.
async function loadScan(repo, digest, el) {
  if (!digest) return;
  let report;
  try {
    report = await apiJson(`/v2/${repo}/_hoist/scan/${digest}`);
  } catch (e) {
    return;
  }
  const findings = report.findings || [];
  el.hidden = false;
  const counts = {};
  for (const f of findings) counts[f.severity] = (counts[f.severity] || 0) + 1;
  const summary = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN']
    .filter((s) => counts[s]).map((s) => `${counts[s]} ${s.toLowerCase()}`).join(', ');
  replace(el, h('h2', {}, 'Vulnerabilities'),
    h('p', { test: 'scan-summary' }, `${report.os || 'Unknown OS'}, ${report.packages} packages: `,
      findings.length ? summary : 'no known vulnerabilities.'),
    report.error ? h('p', { class: 'error', test: 'scan-error' }, report.error) : null,
    findings.length ? table(['Severity', 'ID', 'Package', 'Version', 'Fixed in', 'Summary'], findings.map((f) => h('tr', { test: 'finding' },
      h('td', {}, h('span', { class: `badge severity-${f.severity.toLowerCase()}`, test: 'finding-severity' }, f.severity)),
      h('td', {}, code(f.id, 'finding-id')),
      h('td', {}, f.package),
      h('td', {}, code(f.version)),
      h('td', {}, f.fixed ? code(f.fixed) : h('span', { class: 'muted' }, 'no fix known')),
      h('td', { class: 'small' }, f.summary || ''))), 'finding-table') : null);
}

async function loadReferrers(repo, digest, el) {
  const title = h('h2', {}, 'Referrers');
  if (!digest) return replace(el, title, h('p', { class: 'muted' }, 'Unknown digest: no referrers to ask for.'));
  let list;
  try {
    list = (await apiJson(`/v2/${repo}/referrers/${digest}`, { accept: MANIFEST_TYPES[0] })).manifests || [];
  } catch (e) {
    return replace(el, title, e instanceof ApiError && e.status === 404
      ? h('p', { class: 'muted' }, 'This registry does not list referrers.') : errorBox(e));
  }
  if (!list.length) return replace(el, title, h('p', { class: 'muted', test: 'no-referrers' }, 'No signatures, SBOMs or other artifacts refer to this manifest.'));
  return replace(el, title, table(['Artifact type', 'Digest', 'Size', 'Created'], list.map((d) => h('tr', { test: 'referrer' },
    h('td', {}, code(d.artifactType || d.mediaType || '', 'referrer-type')),
    h('td', {}, h('a', { href: digestHref(repo, d.digest), test: 'referrer-link' }, code(d.digest))),
    h('td', {}, sizeCell(d.size, 'referrer-size')),
    h('td', { class: 'nowrap small' }, d.annotations?.['org.opencontainers.image.created'] || ''))), 'referrer-table'));
}

// The delete button and its confirmation bar. A refusal leaves the page as
// it was, with the registry's reason under the title.
function deleteControl(repo, tag) {
  const message = h('p', { class: 'error', test: 'delete-error', hidden: true });
  const confirmButton = h('button', { type: 'button', class: 'danger', test: 'confirm-delete' }, 'Delete');
  const cancelButton = h('button', { type: 'button', test: 'cancel-delete' }, 'Cancel');
  const bar = h('div', { class: 'confirm', test: 'confirm-bar', hidden: true },
    h('span', {}, 'Delete the tag ', h('strong', {}, tag), ' from ', h('strong', {}, repo),
      '? Other tags and digests that name the same manifest are not affected.'), ' ', confirmButton, cancelButton);
  const button = h('button', { type: 'button', class: 'danger', test: 'delete-tag' }, 'Delete tag');
  button.addEventListener('click', () => { bar.hidden = false; message.hidden = true; });
  cancelButton.addEventListener('click', () => { bar.hidden = true; });
  confirmButton.addEventListener('click', async () => {
    confirmButton.disabled = cancelButton.disabled = true;
    try {
      await api(`/v2/${repo}/manifests/${tag}`, { method: 'DELETE' });
      flash = `Deleted the tag ${tag}.`;
      location.hash = repoHref(repo);
      return;
    } catch (e) {
      let text = describe(e);
      if (e instanceof ApiError && e.kind === 'signin') text = 'Sign in to delete tags.';
      else if (e instanceof ApiError && e.kind === 'other') text = `The registry refused: ${text}`;
      replace(message, text);
      message.hidden = false;
      bar.hidden = true;
    } finally {
      confirmButton.disabled = cancelButton.disabled = false;
    }
  });
  return { button, bar: h('div', {}, bar, message) };
}

// ---------------------------------------------------------------------------

async function route() {
  const gen = ++generation;
  renderAuth();
  const r = parseRoute(location.hash);
  document.title = r.repo ? `${r.repo}${r.tag ? `:${r.tag}` : ''} — hoist registry` : 'hoist registry';
  replace(main, h('p', { class: 'muted', test: 'loading' }, 'Loading…'));
  try {
    if (r.page === 'catalog') await catalogPage(gen);
    else if (r.page === 'repo') await repoPage(gen, r.repo);
    else if (r.page === 'manifest') await manifestPage(gen, r);
    else replace(main, crumbs(), h('p', { class: 'error', test: 'error' }, `Not a valid ${r.what}: ${location.hash}`));
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && (e.kind === 'signin' || e.kind === 'badcredentials')) {
      if (e.kind === 'badcredentials') signOut();
      renderSignIn(describe(e));
      return;
    }
    const notFound = e instanceof ApiError && e.status === 404;
    replace(main, crumbs(), h('p', { class: 'error', test: 'error' },
      notFound && r.page === 'repo' ? `No repository ${r.repo} here (or it has no tags). ` : '', describe(e)));
  }
}

document.getElementById('host').textContent = location.host;
window.addEventListener('hashchange', route);
route();
