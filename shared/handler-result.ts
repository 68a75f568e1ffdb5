// What a handler returns when the input itself is wrong: a clear error in the result and the log, nothing changed.
import type { Logger } from './log';
import { InvalidInputError } from './errors';

export interface InputErrorResult {
  ok: false;
  error: { code: 'InvalidInput' | 'ConfigError' | 'InternalError'; message: string };
}

export function inputError(log: Logger, message: string, code: InputErrorResult['error']['code'] = 'InvalidInput'): InputErrorResult {
  log.error('invalid input, nothing changed', { outcome: 'refused', error: { code, message } });
  return { ok: false, error: { code, message } };
}

/** Turn an exception escaping a use case into a result; input errors are not retried by EventBridge. */
export function failure(log: Logger, e: unknown): InputErrorResult {
  if (e instanceof InvalidInputError) return inputError(log, e.message);
  const message = e instanceof Error ? e.message : String(e);
  log.error('invocation failed', { error: { code: (e as { code?: string })?.code ?? 'InternalError', message } });
  throw e; // an unexpected failure: let the platform retry the event
}
