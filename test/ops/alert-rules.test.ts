/**
 * docs/alerts.yml under Prometheus's own tools: `promtool check rules`, then the rule unit tests
 * of docs/alerts.test.yml (`promtool test rules`), which must hold a firing and a silent case for
 * every alert. promtool is Debian's `prometheus` package (see test/helpers/tools.ts).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describeWithTools } from '../helpers/tools';

const DOCS = join(__dirname, '..', '..', 'docs');
const RULES = join(DOCS, 'alerts.yml');
const RULE_TESTS = join(DOCS, 'alerts.test.yml');

interface AlertTestCase {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: AlertTestCase[] }[];
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ?? ''}` };
}

/** Throws promtool's own report, so a failing rule test reads as promtool wrote it. */
function expectSuccess(run: { status: number | null; output: string }): void {
  if (run.status !== 0) throw new Error(`promtool exited ${run.status}:\n${run.output}`);
}

const alertNames = (
  parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string }[] }[] }
).groups.flatMap((g) => g.rules.flatMap((r) => (r.alert ? [r.alert] : [])));
const ruleTests = parse(readFileSync(RULE_TESTS, 'utf8')) as RuleTests;
const cases = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []);

describe('docs/alerts.test.yml', () => {
  test('tests the rules of docs/alerts.yml', () => {
    expect(ruleTests.rule_files).toEqual(['alerts.yml']);
  });

  test.each(alertNames)(
    '%s has a case where it fires, with severity and summary, and one where it must not',
    (alert) => {
      const own = cases.filter((c) => c.alertname === alert);
      const firing = own.filter((c) => (c.exp_alerts ?? []).length > 0);
      expect([alert, firing.length > 0, own.some((c) => (c.exp_alerts ?? []).length === 0)]).toEqual([
        alert,
        true,
        true,
      ]);
      for (const expected of firing.flatMap((c) => c.exp_alerts ?? [])) {
        expect(expected.exp_labels?.severity).toMatch(/^(critical|warning)$/);
        expect(expected.exp_annotations?.summary).toBeDefined();
      }
    },
  );

  test('names no alert that docs/alerts.yml lacks', () => {
    expect([...new Set(cases.map((c) => c.alertname))].filter((name) => !alertNames.includes(name))).toEqual(
      [],
    );
  });
});

describeWithTools(['promtool'], 'docs/alerts.yml under promtool', () => {
  test('promtool check rules accepts it', () => {
    expectSuccess(promtool('check', 'rules', RULES));
  });

  test('promtool test rules passes every case of docs/alerts.test.yml', () => {
    expectSuccess(promtool('test', 'rules', RULE_TESTS));
  });

  test('the rule tests catch a wrong threshold: a depth alert at 1000 instead of 100 fails them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rq-rules-'));
    try {
      const rules = readFileSync(RULES, 'utf8');
      const broken = rules.replace(
        'sum(max by (priority) (render_queue_depth)) > 100',
        'sum(max by (priority) (render_queue_depth)) > 1000',
      );
      expect(broken).not.toBe(rules);
      writeFileSync(join(dir, 'alerts.yml'), broken);
      copyFileSync(RULE_TESTS, join(dir, 'alerts.test.yml'));
      const run = promtool('test', 'rules', join(dir, 'alerts.test.yml'));
      expect(run.status).not.toBe(0);
      expect(run.output).toMatch(/alertname: RenderQueueDepthHigh/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
