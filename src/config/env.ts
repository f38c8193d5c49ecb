/**
 * Process configuration from the environment, validated once at start-up. A missing or
 * malformed value stops the process with a message naming the variable.
 */
import { z } from 'zod';
import { passwordOf, redact, redactSettings, registerSecret } from '../observability/secrets';

const url = (what: string) =>
  z
    .url({ message: `must be a URL (${what})` })
    .refine((u) => /^https?:\/\//.test(u), `must be an http(s) URL`);

const positiveInt = z.coerce.number().int().positive();

export const EnvSchema = z
  .object({
    TEMPORAL_ADDRESS: z
      .string()
      .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233')
      .default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,255}$/, 'must be a namespace name')
      .default('default'),
    SUPABASE_URL: url('Supabase project URL').optional(),
    SUPABASE_SERVICE_ROLE_KEY: z.string().min(20, 'must be the service-role key (a JWT)').optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection URL')
      .optional(),
    PGLITE_DIR: z.string().min(1).default('.data/pglite'),
    MANIM_API_URL: url('Manim renderer').default('http://localhost:5000'),
    REVIDEO_API_URL: url('Revideo renderer').default('http://localhost:5001'),
    ORCHESTRATOR_API_URL: url('video orchestrator').default('http://localhost:8103'),
    CONFIG_REFRESH_SECONDS: positiveInt.default(15),
    /**
     * Intake wakes on every insert; this is the safety sweep's period for rows no wake-up reached.
     * 0 turns intake off in this worker (no listener, no sweep).
     */
    INTAKE_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(60),
    WORKER_SHUTDOWN_GRACE_SECONDS: positiveInt.default(30),
    /**
     * Renders this process may run at once, beneath the fleet-wide caps (a small container);
     * unset: as many as admission grants.
     */
    WORKER_MAX_RENDERS: positiveInt.optional(),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
    /** Where a prebuilt workflow bundle lives (production images build it at image build). */
    WORKFLOW_BUNDLE_PATH: z.string().optional(),
    /**
     * The operator token of `render-queue admin`: the page and its actions need it. Required to
     * serve on a non-loopback address; long enough that guessing it over HTTP is hopeless.
     */
    ADMIN_TOKEN: z
      .string()
      .min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 32`)')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
      .optional(),
    /** The Temporal Web UI the admin page links each job to (the dev server's UI by default). */
    TEMPORAL_UI_URL: url('Temporal Web UI')
      .transform((u) => u.replace(/\/+$/, ''))
      .default('http://localhost:8233'),
  })
  .superRefine((env, ctx) => {
    if (env.SUPABASE_URL && !env.SUPABASE_SERVICE_ROLE_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['SUPABASE_SERVICE_ROLE_KEY'],
        message: 'is required when SUPABASE_URL is set',
      });
    }
  });
export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; empty strings count as unset (as they do in most .env files). */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      return `${name} ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${redact(lines.join('; '))}`);
  }
  const env = parsed.data;
  registerSecret(env.SUPABASE_SERVICE_ROLE_KEY);
  registerSecret(env.ADMIN_TOKEN);
  registerSecret(passwordOf(env.DATABASE_URL));
  return env;
}

/** A copy safe to print: secrets replaced, connection passwords removed. */
export function redactedEnv(env: Env): Record<string, unknown> {
  return redactSettings(env);
}

export function rendererUrls(env: Env): { manim: string; revideo: string; orchestrator: string } {
  return { manim: env.MANIM_API_URL, revideo: env.REVIDEO_API_URL, orchestrator: env.ORCHESTRATOR_API_URL };
}
