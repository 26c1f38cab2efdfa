import { pino, type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

export interface LoggerOptions {
  readonly level: LevelWithSilent
  /** Human-readable lines (pino-pretty) instead of JSON; defaults to "stdout is a terminal". */
  readonly pretty?: boolean
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.pretty ?? process.stdout.isTTY
  if (!pretty) return pino({ level: options.level, base: { pid: process.pid } })
  return pino({
    level: options.level,
    transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
  })
}
