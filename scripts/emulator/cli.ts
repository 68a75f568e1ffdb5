// `npm run emulator -- [--port N] [--state FILE]`: starts the emulator on 127.0.0.1 until SIGINT/SIGTERM.
// Without --state it loads the demo state (demo-state.ts); --port 0 (the default) picks a free port.
import { DEMO, demoState } from './demo-state';
import { startEmulator } from './server';
import { loadStateFile } from './state';
import type { EmulatorState } from './types';

interface CliArgs {
  port: number;
  stateFile?: string;
}

function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--port') {
      const port = Number(value());
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error('--port needs a number between 0 and 65535');
      args.port = port;
    } else if (flag === '--state') {
      args.stateFile = value();
      if (!args.stateFile) throw new Error('--state needs a file path');
    } else if (flag === '--help' || flag === '-h') {
      throw new Error('usage: npm run emulator -- [--port N] [--state FILE]');
    } else {
      throw new Error(`unknown argument ${a}; usage: npm run emulator -- [--port N] [--state FILE]`);
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const state: EmulatorState = args.stateFile ? loadStateFile(args.stateFile) : demoState();
  const emulator = await startEmulator({ port: args.port, state });
  const lines = [
    `ecs-share emulator listening on ${emulator.endpoint}`,
    `state: ${args.stateFile ?? 'demo state (scripts/emulator/demo-state.ts)'}`,
    `point the product at it:  export ALIBABA_CLOUD_ENDPOINT_OVERRIDE=${emulator.endpoint}`,
    `admin API: ${emulator.endpoint}/_emulator/state, /_emulator/calls, /_emulator/faults, /_emulator/rate-limits, /_emulator/throttling, /_emulator/events ...`,
  ];
  if (!args.stateFile) {
    lines.push('demo accounts (root keys):');
    for (const [role, a] of Object.entries({
      owner: DEMO.owner,
      'rd recipient': DEMO.rdRecipient,
      'external recipient': DEMO.externalRecipient,
    })) {
      lines.push(
        `  ${role.padEnd(18)} ${a.uid}  ALIBABA_CLOUD_ACCESS_KEY_ID=${a.accessKeyId} ALIBABA_CLOUD_ACCESS_KEY_SECRET=${a.accessKeySecret}`,
      );
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  const stop = () => {
    emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`emulator: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
