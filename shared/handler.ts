// The shape every function shares: read configuration once (a bad setting is a clear error result), normalise the
// event, run one use case, and turn what escapes it into a result or a platform retry.
import { clip, parseTrigger, type Trigger } from './events';
import { startInvocation, type FcContext, type Invocation } from './runtime';
import { createLogger, type Logger } from './log';
import { InvalidInputError } from './errors';

export interface InputErrorResult {
  ok: false;
  error: { code: 'InvalidInput' | 'ConfigError'; message: string };
}

export function inputError(
  log: Logger,
  message: string,
  code: InputErrorResult['error']['code'] = 'InvalidInput',
): InputErrorResult {
  const text = clip(message || 'The invocation cannot be handled', 1000); // a reason, not an echo of the payload
  log.error('invalid input, nothing changed', { outcome: 'refused', error: { code, message: text } });
  return { ok: false, error: { code, message: text } };
}

export function makeHandler<R>(
  fn: string,
  body: (run: Invocation, invocation: Trigger) => Promise<R | InputErrorResult>,
) {
  return async (event: unknown, context: FcContext = {}): Promise<R | InputErrorResult> => {
    let run: Invocation;
    try {
      run = startInvocation(fn, context);
    } catch (e) {
      return inputError(createLogger({ fn, requestId: context.requestId }), (e as Error).message, 'ConfigError');
    }
    // Reading the event is the one step that sees it raw: whatever goes wrong there is the event's fault, and the same
    // event redelivered would fail the same way, so it is answered, never rethrown into the platform's retry.
    let parsed: Trigger;
    try {
      parsed = parseTrigger(event);
    } catch (e) {
      return inputError(run.log, `The invocation payload cannot be read: ${(e as Error)?.message ?? String(e)}`);
    }
    try {
      return await body(run, parsed);
    } catch (e) {
      if (e instanceof InvalidInputError) return inputError(run.log, e.message);
      run.log.error('invocation failed', {
        error: { code: (e as { code?: string })?.code ?? 'InternalError', message: (e as Error)?.message ?? String(e) },
      });
      throw e; // unexpected: let the platform retry the event
    }
  };
}
