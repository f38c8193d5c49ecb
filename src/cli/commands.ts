/**
 * The `render-queue` command table. Each command's module loads when it runs, so a command pays
 * only for what it uses (`status` never loads the database drivers, `--help` loads nothing).
 */
import type { CommandContext } from './context';

export type { CommandContext } from './context';

type Command = (ctx: CommandContext) => Promise<number>;

export const COMMANDS: Record<string, () => Promise<Command>> = {
  submit: async () => (await import('./job-commands')).submitCommand,
  status: async () => (await import('./job-commands')).statusCommand,
  cancel: async () => (await import('./job-commands')).cancelCommand,
  retry: async () => (await import('./job-commands')).retryCommand,
  priority: async () => (await import('./job-commands')).priorityCommand,
  list: async () => (await import('./queue-commands')).listCommand,
  stats: async () => (await import('./queue-commands')).statsCommand,
  capacity: async () => (await import('./queue-commands')).capacityCommand,
  watch: async () => (await import('./queue-commands')).watchCommand,
  intake: async () => (await import('./queue-commands')).intakeCommand,
  admin: async () => (await import('./admin-command')).adminCommand,
};
