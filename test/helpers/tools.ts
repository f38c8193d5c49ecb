/**
 * Monitoring binaries from Debian's packages that ops tests run for real. `node scripts/setup.mjs`
 * (run by `npm test`) installs them where missing, as root. On a machine without them and without
 * root the tests are skipped with a printed reason; under CI a missing tool fails the suite.
 */
import { spawnSync } from 'node:child_process';

const PACKAGE_OF = {
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'prometheus-alertmanager': 'prometheus-alertmanager',
} as const;
export type Tool = keyof typeof PACKAGE_OF;

export const onCi = process.env.CI === 'true' || process.env.CI === '1';

export function hasTool(tool: Tool): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

function missingMessage(missing: Tool[]): string {
  const packages = [...new Set(missing.map((tool) => PACKAGE_OF[tool]))].join(' ');
  return `${missing.join(', ')} not installed (Debian: apt-get install --no-install-recommends ${packages}; node scripts/setup.mjs does it as root)`;
}

/** `describe` when every tool is there; otherwise one failing test under CI, or a skip with a reason. */
export function describeWithTools(tools: Tool[], name: string, body: () => void): void {
  const missing = tools.filter((tool) => !hasTool(tool));
  if (missing.length === 0) return describe(name, body);
  const message = missingMessage(missing);
  if (onCi) {
    describe(name, () => {
      test(`needs ${tools.join(', ')}`, () => {
        throw new Error(message);
      });
    });
    return;
  }
  process.stderr.write(`${JSON.stringify({ level: 'warn', msg: `${name}: skipped, ${message}` })}\n`);
  describe.skip(name, body);
}
