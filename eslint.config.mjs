import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'crypto',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];

/**
 * The layers of src/, lowest first: a folder imports its own layer and the ones below, never one
 * above, so the imports point one way (shared <- store ... <- activities/workflows <- worker ... <- cli).
 */
const LAYERS = [
  ['shared'],
  ['store', 'renderers', 'capacity', 'config', 'util', 'observability'],
  ['activities', 'workflows'],
  ['worker', 'jobs', 'intake', 'admin'],
  ['cli'],
];

// Workflow code and what it imports run in Temporal's deterministic sandbox.
const SANDBOXED = ['src/workflows/**/*.ts', 'src/shared/**/*.ts', 'src/capacity/peak-hours.ts'];
const sandboxImports = {
  paths: nodeBuiltins.flatMap((name) => [name, `node:${name}`]),
  patterns: [
    {
      group: [
        '../activities',
        '../activities/*',
        '../store/*',
        '../renderers/*',
        'pg',
        '@electric-sql/*',
        '@supabase/*',
      ],
      allowTypeImports: true,
      message: 'workflows may import activities as types only',
    },
  ],
};

// src/ is what ships (dist/, the image): it builds on nothing from development code or tests.
const PRODUCTION_ONLY = {
  regex: '^(\\.\\./)+(dev|test|bench|scripts)(/|$)',
  message: 'src/ is production code: it may not import dev/, test/, bench/ or scripts/',
};

/** The folders above `layer`, as an import pattern for files whose imports of src/ folders start with `prefix`. */
function aboveLayer(layer, prefix) {
  const above = LAYERS.slice(layer + 1).flat();
  if (above.length === 0) return [];
  return [
    {
      regex: `^${prefix.replace(/\./g, '\\.')}(${above.join('|')})(/|$)`,
      message: `src/ layers point one way: ${LAYERS.map((l) => l.join('/')).join(' <- ')}; this import points up`,
    },
  ];
}

/** One no-restricted-imports entry per layer folder and entry file, with the sandbox's added where it applies. */
function layerRules() {
  const layerOf = (folder) => LAYERS.findIndex((folders) => folders.includes(folder));
  const entries = [
    // The entry files (src/cli.ts, the top, imports anything); first, as a later entry for the same file wins.
    { files: ['src/*.ts'], patterns: [] },
    ...LAYERS.flat().map((folder) => ({
      files: [`src/${folder}/**/*.ts`],
      patterns: aboveLayer(layerOf(folder), '../'),
    })),
    { files: ['src/worker.ts'], patterns: aboveLayer(layerOf('worker'), './') },
    // A sandboxed file inside an unsandboxed folder.
    { files: ['src/capacity/peak-hours.ts'], patterns: aboveLayer(layerOf('capacity'), '../') },
  ];
  return entries.map(({ files, patterns: layerPatterns }) => {
    const patterns = [...layerPatterns, PRODUCTION_ONLY];
    return {
      files,
      rules: {
        'no-restricted-imports': [
          'error',
          files.some((f) => SANDBOXED.includes(f))
            ? { paths: sandboxImports.paths, patterns: [...sandboxImports.patterns, ...patterns] }
            : { patterns },
        ],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        require: 'readonly',
        module: 'readonly',
        __dirname: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...layerRules(),
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins (imports: layerRules).
    files: SANDBOXED,
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'use workflow time; Date.now is only deterministic inside the sandbox',
        },
      ],
      'no-restricted-globals': ['error', 'setInterval', 'fetch'],
    },
  },
  {
    // Development code, benchmarks and scripts build on src/ and dev/; what only tests need stays in test/.
    files: ['dev/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+test(/|$)', message: 'dev/, bench/ and scripts/ may not import test/' },
          ],
        },
      ],
    },
  },
  prettier,
);
