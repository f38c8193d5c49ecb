/** The one redaction (secrets.ts) and the one logger that applies it to every line. */
import { JsonLogger } from '../../src/observability/logger';
import {
  REDACTED,
  redact,
  redactSettings,
  redactUrlCredentials,
  registerSecret,
} from '../../src/observability/secrets';
import { redactDatabaseUrl } from '../../src/store/open-store';

const KEY = 'service-role-key-for-secrets-test';
beforeAll(() => registerSecret(KEY));

test('a registered secret, a secret given for one message and a connection password all read as [redacted]', () => {
  expect(redact(`key ${KEY}; token tok-123456; postgres://app:hunter22@db:5432/q`, 'tok-123456')).toBe(
    `key ${REDACTED}; token ${REDACTED}; postgres://app:${REDACTED}@db:5432/q`,
  );
});

test('a database URL keeps its user, host and database; only the password is hidden', () => {
  expect(redactDatabaseUrl('postgres://postgres:postgres@localhost:5432/render')).toBe(
    `postgres://postgres:${REDACTED}@localhost:5432/render`,
  );
  expect(redactUrlCredentials('redis://:pw-only@cache:6379')).toBe(`redis://:${REDACTED}@cache:6379`);
  // A raw @ inside the password: all of it is hidden, not only what stands before the first @.
  expect(redactUrlCredentials('postgres://u:p@ss@db.example:5432/app')).toBe(
    `postgres://u:${REDACTED}@db.example:5432/app`,
  );
  expect(redactDatabaseUrl('not a url')).toBe('(unparseable DATABASE_URL)');
});

test('settings that are secrets are hidden whole; the others only where they hold a secret', () => {
  expect(
    redactSettings({
      ADMIN_TOKEN: 'short',
      SUPABASE_SERVICE_ROLE_KEY: undefined,
      DATABASE_URL: 'postgres://u:pw-secret@h/db',
      METRICS_PORT: 9464,
    }),
  ).toEqual({
    ADMIN_TOKEN: REDACTED,
    SUPABASE_SERVICE_ROLE_KEY: undefined,
    DATABASE_URL: `postgres://u:${REDACTED}@h/db`,
    METRICS_PORT: 9464,
  });
});

test("the logger writes one redacted JSON line per entry, with the activity's ids and never its task token", () => {
  const lines: string[] = [];
  const logger = new JsonLogger('INFO', (line) => lines.push(line)).child({ workflowId: 'wf-1' });
  logger.debug('below the level');
  logger.warn('render failed', {
    activityId: '7',
    taskToken: 'AAdkZWZhdWx0',
    error: new Error(`bad ${KEY}`),
  });
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toEqual({
    time: expect.any(String),
    level: 'warn',
    msg: 'render failed',
    workflowId: 'wf-1',
    activityId: '7',
    error: { name: 'Error', message: `bad ${REDACTED}` },
  });
});
