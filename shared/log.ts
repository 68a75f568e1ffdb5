// One JSON object per line: what Function Compute ships to Log Service. Never log credentials or tokens.
import fs from 'node:fs';

export type LogFields = Record<string, unknown>;

const SECRET_KEYS = /secret|token|password|signature|accesskey/i;

function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const LEVELS = { info: 1, warn: 2, error: 3, off: 4 } as const;
export type LogLevel = keyof typeof LEVELS;

/** SHARE_LOG_LEVEL: info (default), warn, error or off. */
export function logLevelFrom(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = (env.SHARE_LOG_LEVEL ?? '').trim().toLowerCase();
  return v in LEVELS ? (v as LogLevel) : 'info';
}

/** SHARE_LOG_CAPTURE_FILE (a debugging aid): every line, at every level whatever SHARE_LOG_LEVEL says, is also appended there. */
function captureFileFrom(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SHARE_LOG_CAPTURE_FILE?.trim() || undefined;
}

function appendTo(file: string, line: string): void {
  try {
    fs.appendFileSync(file, line + '\n');
  } catch {
    // A debugging aid never fails an invocation.
  }
}

export function createLogger(
  base: LogFields = {},
  write: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  minLevel: LogLevel = logLevelFrom(),
  captureFile: string | undefined = captureFileFrom(),
): Logger {
  const emit = (level: Exclude<LogLevel, 'off'>, msg: string, fields?: LogFields) => {
    const shown = LEVELS[level] >= LEVELS[minLevel];
    if (!shown && !captureFile) return;
    const line = JSON.stringify(redact({ time: new Date().toISOString(), level, msg, ...base, ...fields }));
    if (captureFile) appendTo(captureFile, line);
    if (shown) write(line);
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger({ ...base, ...f }, write, minLevel, captureFile),
  };
}
