// Validates SPDX 2.3 JSON documents with ajv (from the npm registry)
// against spdx-2.3.schema.json, and checks what a schema cannot: every
// SPDXID unique and every relationship's ends defined. Run by
// tests/transfer/sbom_scan.sh:  node spdx-validate.mjs DOC.json...
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';

const here = dirname(fileURLToPath(import.meta.url));
const schema = JSON.parse(readFileSync(join(here, 'spdx-2.3.schema.json'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
let failed = false;
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const problems = [];
  if (!validate(doc)) problems.push(...validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}`));
  const ids = new Set(['SPDXRef-DOCUMENT']);
  for (const p of doc.packages || []) {
    if (ids.has(p.SPDXID)) problems.push(`SPDXID ${p.SPDXID} twice`);
    ids.add(p.SPDXID);
  }
  for (const r of doc.relationships || []) {
    for (const end of [r.spdxElementId, r.relatedSpdxElement]) {
      if (!ids.has(end) && end !== 'NONE' && end !== 'NOASSERTION') problems.push(`relationship names ${end}, which is not defined`);
    }
  }
  if (!(doc.relationships || []).some((r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES')) {
    problems.push('the document DESCRIBES nothing');
  }
  if (problems.length) {
    failed = true;
    console.error(`${file}: ${problems.join('; ')}`);
  }
}
process.exit(failed ? 1 : 0);
