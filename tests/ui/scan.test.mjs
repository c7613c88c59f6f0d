// The web UI's vulnerability section in Debian's Chromium (playwright-core),
// run by tests/registry/scan.sh:
//   node scan.test.mjs BASE USER PASSWORD REPO TAG EXPECT.json
// EXPECT.json: {"summary": text the summary must contain,
//               "findings": ["SEVERITY ID PACKAGE FIXED", ...] in page order}.
import { readFileSync } from 'node:fs';
import { chromium, selectors } from 'playwright-core';

const [base, user, password, repo, tag, expectFile] = process.argv.slice(2);
const want = JSON.parse(readFileSync(expectFile, 'utf8'));
selectors.setTestIdAttribute('data-test');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], timeout: 30000 });
let failed = null;
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(10000);
  await page.goto(`${base}/ui/#/r/${repo}/t/${tag}`);
  await page.getByTestId('sign-in-form').waitFor();
  await page.getByTestId('username').fill(user);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('sign-in-submit').click();
  await page.getByTestId('finding').first().waitFor();
  const summary = (await page.getByTestId('scan-summary').textContent()).trim();
  if (!summary.includes(want.summary)) throw new Error(`summary: got ${JSON.stringify(summary)}, want ${JSON.stringify(want.summary)}`);
  const rows = await page.getByTestId('finding').evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 5).map((td) => td.textContent.trim())));
  const got = rows.map((r) => `${r[0]} ${r[1]} ${r[2]} ${r[4]}`);
  if (JSON.stringify(got) !== JSON.stringify(want.findings)) {
    throw new Error(`findings: got ${JSON.stringify(got)}, want ${JSON.stringify(want.findings)}`);
  }
} catch (e) {
  failed = e;
} finally {
  await browser.close();
}
if (failed) {
  console.error(`scan.test: FAILED: ${failed.message}`);
  process.exit(1);
}
console.log('scan.test: OK');
