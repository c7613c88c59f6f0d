// The registry's web UI in Debian's Chromium, through playwright-core (no
// test runner, no downloaded browser). Run by tests/registry/ui.sh:
//   node ui.test.mjs EXPECT.json
// EXPECT.json names three running registries (basic auth, bearer tokens, no
// accounts) and what they hold, read by the script from the OCI layouts it
// pushed; every check compares the page against those facts. Exits 1 with
// the failing step, and a screenshot of it, on the first difference.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, selectors } from 'playwright-core';

const want = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const STEP_MS = 5000; // any one wait
const started = Date.now();
selectors.setTestIdAttribute('data-test');

let step = 'start';
let checks = 0;
const shots = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bytes = (n) => `${n.toLocaleString('en-US')} bytes`;
const json = (x) => JSON.stringify(x);

// until(what, probe): probe() returns [ok, got]; retried for STEP_MS.
async function until(what, probe, ms = STEP_MS) {
  const end = Date.now() + ms;
  let got;
  for (;;) {
    try {
      let ok;
      [ok, got] = await probe();
      if (ok) {
        checks++;
        return got;
      }
    } catch (e) {
      got = `(${e.message.split('\n')[0]})`;
    }
    if (Date.now() > end) throw new Error(`${what}: got ${typeof got === 'string' ? got : json(got)}`);
    await sleep(100);
  }
}

async function texts(locator) {
  return (await locator.allTextContents()).map((s) => s.trim());
}

function expectTexts(locator, expected, what) {
  return until(`${what}: want ${json(expected)}`, async () => {
    const got = await texts(locator);
    return [json(got) === json(expected), got];
  });
}

function expectText(locator, expected, what) {
  return expectTexts(locator, [expected], what);
}

function expectContains(locator, part, what) {
  return until(`${what}: want text containing ${json(part)}`, async () => {
    const got = await texts(locator);
    return [got.length === 1 && got[0].includes(part), got];
  });
}

function expectCount(locator, n, what) {
  return until(`${what}: want ${n}`, async () => {
    const got = await locator.count();
    return [got === n, got];
  });
}

function expectHash(page, hash) {
  return until(`location hash: want ${hash}`, async () => {
    const got = decodeURIComponent(new URL(page.url()).hash);
    return [got === hash, got];
  });
}

// A size cell reads "<human> (<exact> bytes)": the exact count must be the
// size, and the human form within rounding of it.
function expectSizes(locator, sizes, what) {
  const units = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
  return until(`${what}: want ${json(sizes)}`, async () => {
    const got = await texts(locator);
    const ok = got.length === sizes.length && got.every((t, i) => {
      const m = t.match(/^([\d.]+) (B|KiB|MiB|GiB) \(([\d,]+) bytes\)$/);
      return m && Number(m[3].replace(/,/g, '')) === sizes[i] &&
        Math.abs(Number(m[1]) * units[m[2]] - sizes[i]) <= 0.01 * sizes[i] + 1;
    });
    return [ok, got];
  });
}

async function shot(page, name) {
  const path = join(want.shots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], timeout: 30000 });
const pages = [];

// A fresh tab (its own sessionStorage) on ORIGIN, 1280x800, that records
// script errors and Content-Security-Policy violations.
async function newPage(origin) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) page.problems.push(m.text());
  });
  pages.push(page);
  return page;
}

async function signIn(page, user, password) {
  await page.getByTestId('sign-in-form').waitFor();
  await page.getByTestId('username').fill(user);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('sign-in-submit').click();
}

async function signOut(page) {
  await page.getByTestId('sign-out').click();
  await expectCount(page.getByTestId('whoami'), 0, 'signed out: no user named');
}

async function openRepository(page, name) {
  await page.getByTestId('home').click();
  await page.getByTestId('search').fill(name);
  await expectTexts(page.getByTestId('repo-link'), [name], `search for ${name}`);
  await page.getByTestId('repo-link').click();
  await expectText(page.getByTestId('repo-name'), name, 'repository page');
}

// Asks for the deletion of the tag whose page is shown, and confirms.
async function deleteTag(page) {
  await page.getByTestId('delete-tag').click();
  await page.getByTestId('confirm-bar').waitFor();
  await page.getByTestId('confirm-delete').click();
}

async function basicRegistry() {
  const reg = want.registries.basic;
  const base = `http://${reg}`;
  const page = await newPage(base);

  step = 'basic: sign in';
  // Page size 1: the three repositories come in three catalog pages.
  await page.goto(`${base}/ui/?n=1#/`);
  await signIn(page, 'reader', 'not-the-password');
  await expectContains(page.getByTestId('sign-in-error'), 'did not accept', 'a wrong password');
  await expectCount(page.getByTestId('whoami'), 0, 'nobody signed in after a wrong password');
  await until('the username offered again', async () => {
    const got = await page.getByTestId('username').inputValue();
    return [got === 'reader', got];
  });
  await shot(page, 'sign-in');
  await signIn(page, 'reader', want.users.reader);
  await expectText(page.getByTestId('whoami'), 'reader', 'signed-in user');

  step = 'basic: catalog';
  await expectTexts(page.getByTestId('repo-link'), want.repositories, 'repositories over three catalog pages');
  await expectText(page.getByTestId('repo-count'), `${want.repositories.length} repositories`, 'repository count');
  await expectCount(page.getByTestId('anonymous-note'), 0, 'no anonymous note when signed in');
  await shot(page, 'catalog');
  await page.getByTestId('search').fill('BUSY');
  await expectTexts(page.getByTestId('repo-link'), ['multi/busybox', 'plain/busybox'], 'search "BUSY"');
  await page.getByTestId('search').fill('mul');
  await expectTexts(page.getByTestId('repo-link'), ['multi/busybox'], 'search "mul"');
  await expectText(page.getByTestId('repo-count'), '1 of 3 repositories match', 'count while searching');
  await page.getByTestId('repo-link').click();

  step = 'basic: repository multi/busybox';
  await expectHash(page, '#/r/multi/busybox');
  await expectText(page.getByTestId('repo-name'), 'multi/busybox', 'repository title');
  await expectTexts(page.getByTestId('tag-link'), ['latest'], 'tags');
  await page.getByTestId('tag-link').click();

  step = 'basic: the index multi/busybox:latest';
  await expectHash(page, '#/r/multi/busybox/t/latest');
  await expectText(page.getByTestId('media-type'), want.index.json.mediaType, 'media type');
  await expectText(page.getByTestId('digest'), want.index.digest, 'digest');
  const platforms = want.index.json.manifests.map((m) =>
    [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/'));
  await expectTexts(page.getByTestId('platform-link'), platforms, 'platforms');
  await expectTexts(page.getByTestId('platform-digest'), want.index.json.manifests.map((m) => m.digest), 'platform digests');
  await expectSizes(page.getByTestId('total-size-value'), [want.index.total], 'total size (distinct blobs)');
  const imageSize = want.amd64.json.config.size + want.amd64.json.layers.reduce((a, l) => a + l.size, 0);
  await until('the amd64 row shows its image size', async () => {
    const got = await texts(page.getByTestId('platform').filter({ hasText: 'linux/amd64' }).getByTestId('platform-size'));
    return [got.length === 1 && got[0].includes(`(${bytes(imageSize)})`), got];
  });
  await expectText(page.getByTestId('pull-tag'), `docker pull ${reg}/multi/busybox:latest`, 'pull by tag');
  await expectText(page.getByTestId('pull-digest'), `docker pull ${reg}/multi/busybox@${want.index.digest}`, 'pull by digest');
  await expectCount(page.getByTestId('no-referrers'), 1, 'no referrers of the index');
  await shot(page, 'index');
  await page.getByTestId('copy-pull-digest').click();
  await until('the clipboard holds the pull command', async () => {
    const got = await page.evaluate(() => navigator.clipboard.readText());
    return [got === `docker pull ${reg}/multi/busybox@${want.index.digest}`, got];
  });
  await page.getByTestId('platform-link').filter({ hasText: 'linux/amd64' }).click();

  step = 'basic: the amd64 image';
  const amd64 = want.amd64;
  await expectHash(page, `#/r/multi/busybox/m/${amd64.digest}`);
  await expectText(page.getByTestId('digest'), amd64.digest, 'digest');
  await expectText(page.getByTestId('media-type'), amd64.json.mediaType, 'media type');
  await expectTexts(page.getByTestId('layer-digest'), amd64.json.layers.map((l) => l.digest), 'layer digests');
  await expectTexts(page.getByTestId('layer-type'), amd64.json.layers.map((l) => l.mediaType), 'layer media types');
  await expectSizes(page.getByTestId('layer-size'), amd64.json.layers.map((l) => l.size), 'layer sizes');
  await expectSizes(page.getByTestId('total-size-value'), [imageSize], 'total size');
  await expectText(page.getByTestId('config-platform'), `${amd64.config.os}/${amd64.config.architecture}`, 'config platform');
  await expectTexts(page.getByTestId('env'), amd64.config.config.Env, 'Env');
  await expectText(page.getByTestId('cmd'), json(amd64.config.config.Cmd), 'Cmd');
  await expectText(page.getByTestId('workdir'), amd64.config.config.WorkingDir, 'WorkingDir');
  await expectText(page.getByTestId('created'), amd64.config.created, 'created');
  await expectTexts(page.getByTestId('history-created-by'), amd64.config.history.map((e) => e.created_by), 'history');
  await expectCount(page.getByTestId('empty-layer'), 0, 'no empty layers in the amd64 history');
  await expectCount(page.getByTestId('pull-tag'), 0, 'no pull-by-tag on a digest page');
  await expectText(page.getByTestId('pull-digest'), `docker pull ${reg}/multi/busybox@${amd64.digest}`, 'pull by digest');
  await shot(page, 'amd64-layers');

  step = 'basic: the plain image, its config and its referrer';
  const plain = want.plain;
  await openRepository(page, 'plain/busybox');
  await expectTexts(page.getByTestId('tag-link'), ['1', 'old'], 'tags');
  await page.getByTestId('tag-link').filter({ hasText: /^1$/ }).click();
  await expectHash(page, '#/r/plain/busybox/t/1');
  await expectText(page.getByTestId('digest'), plain.digest, 'digest');
  const [labelKey, labelValue] = Object.entries(plain.config.config.Labels)[0];
  await expectTexts(page.getByTestId('label'), [`${labelKey}=${labelValue}`], 'the label, markup shown as text');
  await expectCount(page.locator('[data-test=config] b'), 0, 'no element made from the label');
  await expectText(page.getByTestId('user'), plain.config.config.User, 'User');
  await expectText(page.getByTestId('entrypoint'), json(plain.config.config.Entrypoint), 'Entrypoint');
  await expectTexts(page.getByTestId('history-created-by'), plain.config.history.map((e) => e.created_by), 'history');
  const rows = page.getByTestId('history-row');
  await expectCount(rows, plain.config.history.length, 'history rows');
  for (const [i, e] of plain.config.history.entries()) {
    await expectCount(rows.nth(i).getByTestId('empty-layer'), e.empty_layer ? 1 : 0, `history row ${i + 1}'s empty-layer mark`);
  }
  await expectTexts(page.getByTestId('referrer-type'), [want.sbom.artifactType], 'referrer artifact type');
  await expectTexts(page.getByTestId('referrer-link'), [want.sbom.digest], 'referrer digest');
  await expectSizes(page.getByTestId('referrer-size'), [want.sbom.size], 'referrer size');
  await shot(page, 'plain');
  await page.getByTestId('referrer-link').click();
  await expectHash(page, `#/r/plain/busybox/m/${want.sbom.digest}`);
  await expectText(page.getByTestId('artifact-type'), want.sbom.artifactType, 'the referrer manifest\'s artifact type');
  await expectText(page.getByTestId('subject-link'), plain.digest, 'its subject');
  await expectTexts(page.getByTestId('layer-type'), [want.sbom.artifactType], 'its blob');
  await expectCount(page.getByTestId('config'), 0, 'no image configuration for an artifact');
  await shot(page, 'referrer');
  await page.getByTestId('subject-link').click();
  await expectText(page.getByTestId('digest'), plain.digest, 'back at the subject');

  step = 'basic: a reload keeps the session';
  // The catalog answers anonymous callers without a challenge: after a
  // reload the UI must send the credentials it has from the first request.
  await page.goto(`${base}/ui/#/`);
  await expectText(page.getByTestId('whoami'), 'reader', 'still signed in after a reload');
  await expectTexts(page.getByTestId('repo-link'), want.repositories, 'the catalog after a reload');

  step = 'basic: the reader may not delete';
  await page.goto(`${base}/ui/#/r/plain/busybox/t/1`);
  await page.reload();
  await page.getByTestId('delete-tag').click();
  await page.getByTestId('cancel-delete').click();
  await until('cancel hides the confirmation', async () => {
    const visible = await page.getByTestId('confirm-bar').isVisible();
    return [!visible, { visible }];
  });
  await deleteTag(page);
  await expectContains(page.getByTestId('delete-error'), 'Not allowed', 'the refusal');
  await expectText(page.getByTestId('title'), 'plain/busybox:1', 'still on the tag page');
  await expectText(page.getByTestId('digest'), plain.digest, 'the page still shows the manifest');
  await shot(page, 'delete-refused');
  await page.getByTestId('crumbs').getByRole('link', { name: 'plain/busybox' }).click();
  await expectTexts(page.getByTestId('tag-link'), ['1', 'old'], 'both tags still listed');
  await until('credentials only in sessionStorage', async () => {
    const got = await page.evaluate(() => ({ local: localStorage.length, cookie: document.cookie, session: Object.keys(sessionStorage) }));
    return [got.local === 0 && got.cookie === '' && json(got.session) === json(['hoist.credentials']), got];
  });

  step = 'basic: the admin deletes plain/busybox:old';
  await signOut(page);
  await signIn(page, 'admin', want.users.admin);
  await expectText(page.getByTestId('whoami'), 'admin', 'signed-in user');
  await expectTexts(page.getByTestId('tag-link'), ['1', 'old'], 'tags as admin');
  await page.getByTestId('tag-link').filter({ hasText: 'old' }).click();
  await expectHash(page, '#/r/plain/busybox/t/old');
  await deleteTag(page);
  await expectText(page.getByTestId('flash'), 'Deleted the tag old.', 'the deletion');
  await expectHash(page, '#/r/plain/busybox');
  await expectTexts(page.getByTestId('tag-link'), ['1'], 'tags after the deletion');
  await shot(page, 'deleted');
}

async function tokenRegistry() {
  const base = `http://${want.registries.token}`;
  const page = await newPage(base);

  step = 'token: sign in';
  await page.goto(`${base}/ui/#/`);
  await signIn(page, 'reader', want.users.reader);
  await expectTexts(page.getByTestId('repo-link'), want.repositories, 'repositories (registry:catalog:* token)');

  step = 'token: the plain image';
  await page.goto(`${base}/ui/#/r/plain/busybox/t/old`);
  await expectTexts(page.getByTestId('layer-digest'), want.plain.json.layers.map((l) => l.digest), 'layer digests');
  await expectTexts(page.getByTestId('referrer-type'), [], 'no referrers pushed here');

  step = 'token: the reader may not delete';
  await deleteTag(page);
  await expectContains(page.getByTestId('delete-error'), 'Not allowed', 'the refusal');

  step = 'token: the admin deletes';
  await signOut(page);
  await signIn(page, 'admin', want.users.admin);
  await expectText(page.getByTestId('digest'), want.plain.digest, 'the tag page as admin');
  await deleteTag(page);
  await expectText(page.getByTestId('flash'), 'Deleted the tag old.', 'the deletion');
  await expectTexts(page.getByTestId('tag-link'), ['1'], 'tags after the deletion');
}

async function openRegistry() {
  const base = `http://${want.registries.open}`;
  const page = await newPage(base);

  step = 'no accounts: the list without signing in';
  await page.goto(`${base}/ui/#/`);
  await expectTexts(page.getByTestId('repo-link'), want.repositories, 'repositories');
  await expectCount(page.getByTestId('anonymous-note'), 0, 'no sign-in note without accounts');

  step = 'no accounts: deletion disabled';
  await openRepository(page, 'plain/busybox');
  await page.getByTestId('tag-link').filter({ hasText: 'old' }).click();
  await deleteTag(page);
  await expectContains(page.getByTestId('delete-error'), 'UNSUPPORTED, HTTP 405', 'the registry\'s refusal');
  await page.getByTestId('crumbs').getByRole('link', { name: 'plain/busybox' }).click();
  await expectTexts(page.getByTestId('tag-link'), ['1', 'old'], 'both tags still listed');
}

let failed = false;
try {
  await basicRegistry();
  await tokenRegistry();
  await openRegistry();
  step = 'no script errors or CSP violations';
  const problems = pages.flatMap((p) => p.problems);
  if (problems.length) throw new Error(problems.join('\n'));
} catch (e) {
  failed = true;
  console.error(`ui.test: FAIL at "${step}": ${e.message}`);
  const page = pages.at(-1);
  if (page) {
    await shot(page, 'failure').catch(() => {});
    console.error(`ui.test: page at failure: ${page.url()}`);
  }
} finally {
  await browser.close();
}
for (const s of shots) console.log(`ui.test: screenshot ${s}`);
if (failed) process.exit(1);
console.log(`ui.test: OK (${checks} checks in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
