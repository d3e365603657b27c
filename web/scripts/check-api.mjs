// Fails when src/api/schema.d.ts is not what openapi-typescript makes of
// internal/http/api/openapi/berth.yaml now: run `npm run gen:api`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'berth-api-types-'));
try {
  const out = join(dir, 'schema.d.ts');
  execFileSync('npx', ['openapi-typescript', '../internal/http/api/openapi/berth.yaml', '-o', out], { stdio: 'pipe' });
  if (readFileSync(out, 'utf8') !== readFileSync('src/api/schema.d.ts', 'utf8')) {
    console.error('src/api/schema.d.ts is out of date with internal/http/api/openapi/berth.yaml: run `npm run gen:api` in web/ and commit it');
    process.exit(1);
  }
  console.log('api types: src/api/schema.d.ts matches the OpenAPI document');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
