/**
 * supabase-js, loaded on first use: a worker on PostgreSQL or PGlite never needs it, and loading
 * it costs every process ~10 MB of memory and tens of milliseconds of start-up.
 */
import { createRequire } from 'node:module';
import type * as SupabaseJs from '@supabase/supabase-js';

let loaded: typeof SupabaseJs | undefined;

export function supabaseJs(): typeof SupabaseJs {
  loaded ??= createRequire(__filename)('@supabase/supabase-js') as typeof SupabaseJs;
  return loaded;
}
