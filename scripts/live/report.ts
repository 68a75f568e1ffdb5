// What a live run saw of the behaviours docs/unconfirmed.md lists as unconfirmed about the real cloud: delays,
// shapes and error codes, written as live-report.json and .md.
import fs from 'node:fs';
import path from 'node:path';

interface Observation {
  /** The docs/unconfirmed.md item this answers (short form). */
  question: string;
  /** What was measured or seen. */
  observed: string;
  ms?: number;
  value?: unknown;
}

interface ErrorSeen {
  who: string;
  product: string;
  action: string;
  code: string;
  count: number;
}

export class LiveReport {
  readonly observations: Observation[] = [];
  private readonly errors = new Map<string, ErrorSeen>();
  readonly started = new Date();

  constructor(
    readonly runId: string,
    readonly target: string,
  ) {}

  observe(o: Observation): void {
    this.observations.push(o);
  }

  /** Every failed API call the run made (its own and, through their results, the functions'), counted by code. */
  error(who: string, product: string, action: string, code: string): void {
    const key = `${who}/${product}/${action}/${code}`;
    const e = this.errors.get(key);
    if (e) e.count++;
    else this.errors.set(key, { who, product, action, code, count: 1 });
  }

  json(): Record<string, unknown> {
    return {
      runId: this.runId,
      target: this.target,
      started: this.started.toISOString(),
      finished: new Date().toISOString(),
      observations: this.observations,
      errorCodes: [...this.errors.values()],
    };
  }

  markdown(): string {
    const lines = [
      `# ecs-share live run ${this.runId}`,
      '',
      `Against ${this.target}, ${this.started.toISOString()}. Each line answers an item of docs/unconfirmed.md (What is unconfirmed about the real cloud) or says what a scenario saw.`,
      '',
      '| question | observed | ms |',
      '|---|---|---|',
      ...this.observations.map((o) => `| ${o.question} | ${o.observed.replace(/\|/g, '\\|')} | ${o.ms ?? ''} |`),
      '',
      '## Error codes seen',
      '',
      ...(this.errors.size
        ? [
            '| caller | product | action | code | times |',
            '|---|---|---|---|---|',
            ...[...this.errors.values()].map(
              (e) => `| ${e.who} | ${e.product} | ${e.action} | ${e.code} | ${e.count} |`,
            ),
          ]
        : ['none']),
      '',
    ];
    return lines.join('\n');
  }

  /** Writes `<base>.json` and `<base>.md`; returns their paths. */
  write(base: string): string[] {
    fs.mkdirSync(path.dirname(base), { recursive: true });
    fs.writeFileSync(`${base}.json`, JSON.stringify(this.json(), null, 2) + '\n');
    fs.writeFileSync(`${base}.md`, this.markdown());
    return [`${base}.json`, `${base}.md`];
  }
}
