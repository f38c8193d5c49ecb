/** fast-check arbitraries for hostile input: wrong types, unknown values, huge and deep payloads, odd text. */
import fc from 'fast-check';
import { JOB_TYPES, LIMITS, PRIORITIES, RENDERERS } from '../../../src/shared/constants';
import { JOB_TYPE_NAME } from '../../../src/shared/job-schema';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const NASTY = [
  "'; DROP TABLE jobs; --",
  '" OR 1=1 --',
  '$$; select pg_sleep(10); $$',
  "doubt' OR 'a'='a",
  '\\x00',
  '%00',
  '\r\n',
  '\u001b[31mred\u001b[0m',
  '\u202e\u0644\u0627',
  '😀👩‍👩‍👧',
  'ＤＯＵＢＴ',
  'doubt\u200b',
  ' doubt',
  'DOUBT',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '${process.env.SUPABASE_SERVICE_ROLE_KEY}',
  '__proto__',
  'constructor',
  '',
];

/** Text an attacker or a broken client might send, with or without control characters. */
export const hostileText = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
);

/** Text PostgreSQL's text and jsonb types can hold (no NUL, no unpaired surrogate). */
export const storableText = hostileText.filter(
  // eslint-disable-next-line no-control-regex -- finding NUL is the point
  (s) => !/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s),
);

export const notOneOf = (allowed: readonly string[]) => hostileText.filter((s) => !allowed.includes(s));

/** Values of the wrong JSON type for a string field. */
export const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);

/** JSON values that are not objects (a payload must be one). */
export const nonObjectPayload = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 4 }),
);

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** A payload just over the byte limit or far beyond it, in 1- to 4-byte characters or many keys. */
export const oversizedPayload: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc
    .record({ ch: fc.constantFrom('x', 'é', '€', '😀'), extra: fc.integer({ min: 0, max: 200_000 }) })
    .map(({ ch, extra }) => {
      const perChar = utf8Bytes(ch);
      const n = Math.floor((LIMITS.maxPayloadBytes - 11) / perChar) + 1 + Math.floor(extra / perChar);
      return { text: ch.repeat(n) };
    }),
  fc.integer({ min: 3_500, max: 8_000 }).map((keys) => {
    const wide: Record<string, string> = {};
    for (let i = 0; i < keys; i++) wide[`key-${String(i).padStart(6, '0')}`] = 'value';
    return wide;
  }),
);

/** Nested objects or arrays deeper than LIMITS.maxPayloadDepth. */
export const deepPayload: fc.Arbitrary<Record<string, unknown>> = fc
  .record({ depth: fc.integer({ min: LIMITS.maxPayloadDepth + 1, max: 400 }), arrays: fc.boolean() })
  .map(({ depth, arrays }) => {
    let inner: unknown = 'bottom';
    for (let i = 1; i < depth; i++) inner = arrays ? [inner] : { a: inner };
    return { nested: inner };
  });

/** A payload string the database cannot store: NUL or an unpaired surrogate, in a key or a value. */
export const unstorablePayload = fc
  .record({
    bad: fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfff'),
    inKey: fc.boolean(),
    nestedIn: fc.constantFrom<string[]>([], ['scene'], ['scene', 'steps']),
  })
  .map(({ bad, inKey, nestedIn }) => {
    const leaf: Record<string, unknown> = inKey ? { [bad]: 'v' } : { note: bad };
    let payload: Record<string, unknown> = leaf;
    for (const key of [...nestedIn].reverse()) payload = { [key]: payload };
    // Keys are named JSON-escaped in errors, so a message stays one printable line.
    const path = ['payload', ...nestedIn, inKey ? JSON.stringify(bad).slice(1, -1) : 'note'].join('.');
    return { payload, path };
  });

/** Payloads that are valid but hostile: they must be stored and rendered as plain data. */
export const hostileButValidPayload = fc.dictionary(
  // `__proto__` is dropped by validation (see hostile-input.test.ts), so it cannot round-trip.
  storableText.filter((k) => k !== 'simulate' && k !== '__proto__'),
  fc.oneof(
    storableText,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(storableText, { maxLength: 3 }),
  ),
  { minKeys: 1, maxKeys: 6 },
);

export interface InvalidCase {
  input: unknown;
  /** The field the error must name (a zod path, or the unknown key). */
  field: string;
  kind: string;
}

const base = () =>
  ({ jobType: 'doubt', priority: 'medium', payload: { question: 'Why?' } }) as Record<string, unknown>;
const withField = (kind: string, field: string, value: unknown): InvalidCase => ({
  input: { ...base(), [field]: value },
  field,
  kind,
});
const without = (field: string): InvalidCase => {
  const input = base();
  delete input[field];
  return { input, field, kind: `missing ${field}` };
};
const KNOWN_KEYS = ['id', 'jobType', 'priority', 'renderer', 'payload', 'userId'];

/** One field of an otherwise valid submission broken in one way. */
export const invalidSubmission: fc.Arbitrary<InvalidCase> = fc.oneof(
  fc
    .oneof(
      hostileText.filter((s) => !UUID_RE.test(s)),
      wrongType,
    )
    .map((v) => withField('bad id', 'id', v)),
  fc
    .oneof(
      hostileText.filter((s) => !JOB_TYPE_NAME.test(s)),
      wrongType,
    )
    .map((v) => withField('bad job type name', 'jobType', v)),
  // A well-formed name the built-ins don't know must say which renderer runs it.
  fc
    .stringMatching(JOB_TYPE_NAME)
    .filter((s) => !(JOB_TYPES as readonly string[]).includes(s))
    .map((name) => ({ ...withField('unknown job type, no renderer', 'jobType', name), field: 'renderer' })),
  fc.constant(without('jobType')),
  fc.oneof(notOneOf(PRIORITIES), wrongType).map((v) => withField('unknown priority', 'priority', v)),
  fc.oneof(notOneOf(RENDERERS), wrongType).map((v) => withField('unknown renderer', 'renderer', v)),
  fc
    .oneof(
      hostileText.filter((s) => !UUID_RE.test(s)),
      wrongType,
    )
    .map((v) => withField('bad user id', 'userId', v)),
  fc.constant(without('payload')),
  nonObjectPayload.map((v) => withField('payload not an object', 'payload', v)),
  oversizedPayload.map((v) => withField('oversized payload', 'payload', v)),
  deepPayload.map((v) => withField('deep payload', 'payload', v)),
  unstorablePayload.map(({ payload, path }) => ({
    ...withField('unstorable text', 'payload', payload),
    field: path,
  })),
  fc
    .string({ minLength: 1, maxLength: 30 })
    .filter((k) => !KNOWN_KEYS.includes(k))
    .map((key) => ({ input: { ...base(), [key]: 'extra' }, field: key, kind: 'unknown key' })),
  fc
    .oneof(nonObjectPayload, fc.constant(undefined))
    .map((input) => ({ input, field: '(input)', kind: 'not an object' })),
);

/**
 * Whether a `field: message; field: message` error names `field` (or the unknown key). Matched in
 * the whole message, not split at '; ': a generated key or path may itself hold '; '.
 */
export function namesField(message: string, field: string): boolean {
  return (
    message.startsWith(`${field}: `) ||
    message.includes(`; ${field}: `) ||
    message.includes(`Unrecognized key: "${field}"`)
  );
}
