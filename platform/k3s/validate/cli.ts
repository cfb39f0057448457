/**
 * `make check-manifests`: validates rendered overlays (dist/manifests/*.yaml) against their schemas and the
 * project rules, and checks functions/kustomization.yaml is complete. Exit 1 with one line per problem.
 *   node platform/k3s/validate/cli.ts dist/manifests/qualification.yaml dist/manifests/production.yaml
 */
import { readFileSync } from 'node:fs';
import { checkManifest, kustomizationProblems } from './project.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: cli.ts <rendered-manifest.yaml>...\n');
  process.exit(2);
}
const problems = kustomizationProblems();
for (const file of files) {
  const report = await checkManifest(readFileSync(file, 'utf8'), file);
  problems.push(...[...report.schemaErrors, ...report.ruleProblems].map((p) => `${file}: ${p}`));
  process.stdout.write(`${file}: ${report.objects.length} objects checked\n`);
}
for (const p of problems) process.stderr.write(`${p}\n`);
process.exit(problems.length === 0 ? 0 : 1);
