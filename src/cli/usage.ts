/** The `render-queue` help text: its own module, so `--help` loads nothing else. */
export const USAGE = `render-queue: video render jobs as durable Temporal workflows

Usage:
  render-queue submit --type <jobType> --payload '<json object>' [--priority high|medium|low]
                      [--renderer manim|revideo|orchestrator] [--id <uuid>] [--user <uuid>]
  render-queue submit --file <jobs.ndjson|->   many jobs, one JSON object per line with the fields
                                       id, jobType, priority, renderer, userId, payload; every line
                                       is checked first (a bad line submits nothing)
  render-queue status <jobId>          live state: status, attempt, progress, video or error;
                                       a waiting job's position and estimated start
  render-queue priority <jobId> <high|medium|low>   move a job; a waiting one moves in the queue at once
  render-queue cancel <jobId>          cancel the render (the renderer is told) and record it
  render-queue retry <jobId>           start a failed or cancelled job again, as a new run
  render-queue list [--status S] [--priority P] [--renderer R] [--limit N] [--before <time>]
  render-queue stats                   counts, in flight, last hour's waits and renders
  render-queue capacity                caps in force, renders in flight, peak hours
  render-queue watch [--interval S] [--once]   live view of the queue
  render-queue intake [--interval S] [--once]  start/update the intake safety sweep, or run intake once
  render-queue admin [--port 8090] [--host 127.0.0.1]   the live queue and job actions in a browser;
                                       ADMIN_TOKEN is required on any host but loopback
Every command takes --json for machine-readable output.

Job types: doubt (manim), concept_explainer (revideo), solution_walkthrough (orchestrator),
           revision_summary (revideo).

Examples:
  render-queue submit --type doubt --priority high --payload '{"question":"Why is the sky blue?"}'
  echo '{"jobType":"doubt","payload":{"question":"Why?"}}' | render-queue submit --file -
  render-queue list --status failed --renderer manim
  render-queue capacity --json

Environment: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default); stats, capacity and
watch read the database: DATABASE_URL, or SUPABASE_URL with SUPABASE_SERVICE_ROLE_KEY; admin uses
ADMIN_TOKEN (the operator token) and TEMPORAL_UI_URL (http://localhost:8233) for links.
Exit codes: 0 ok, 1 failure (including an unreachable server), 2 bad input (nothing was done).`;

/** Exit code 2: bad input, nothing was done (see USAGE). */
export const EXIT_BAD_INPUT = 2;

/**
 * The exit code when `argv` asks for the help itself (no command, `help`, `--help`, `-h`), else
 * undefined. The bin's launcher answers these without reading the CLI bundle.
 */
export function helpExitCode(argv: readonly string[]): number | undefined {
  const [command] = argv;
  if (!command) return EXIT_BAD_INPUT;
  return command === '--help' || command === '-h' || command === 'help' ? 0 : undefined;
}
