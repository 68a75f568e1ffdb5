// The esbuild plugin that leaves out of sdk.js what openapi-core's RPC call never runs. @darabonba/typescript's
// index loads every helper it offers at once, and four of them pull in packages of their own: the WebSocket client
// (ws and three proxy agents, with socks, ip-address, smart-buffer), its Date (moment), and its merge (lodash).
// openapi-core calls none of them for an RPC call, nor do the SDK model files; each is replaced by a stub that throws,
// naming the package, if anything ever uses it, so a future version that does fails the e2e suite loudly rather than
// silently. Everything openapi-core does call (signing, the HTTP request, retry, streams, form encoding, XML error
// bodies through xml2js, the credential chain) is bundled unchanged (docs/benchmarks.md, Cold start).
import type { Plugin } from 'esbuild';

/** Package -> the darabonba helper that is its only importer: what a call to it would have been for. */
export const LEFT_OUT: Record<string, string> = {
  ws: 'the WebSocket client (darabonba websocket.js)',
  'http-proxy-agent': 'the WebSocket client behind an HTTP proxy (darabonba websocket.js)',
  'https-proxy-agent': 'the WebSocket client behind an HTTPS proxy (darabonba websocket.js)',
  'socks-proxy-agent': 'the WebSocket client behind a SOCKS proxy (darabonba websocket.js)',
  moment: "darabonba's Date helper (date.js), which openapi-core never calls",
  lodash: "darabonba's merge helper (func.js), which openapi-core never calls",
};

/** Only these files may import a left-out package; any other importer gets the real package. */
const IMPORTER = /[\\/]node_modules[\\/]@darabonba[\\/]typescript[\\/]dist[\\/](websocket|date|func)\.js$/;

/**
 * A module that loads and throws at the first real use. It says it is an ES module, so darabonba's import helpers
 * (__importStar, __importDefault) hand it over as it is instead of copying its keys: every later access reaches it.
 */
function stub(pkg: string): string {
  const message = `ecs-share: ${pkg} is left out of the bundle (scripts/leave-out.ts); it is only used by ${LEFT_OUT[pkg]}`;
  return `"use strict";
const fail = () => { throw new Error(${JSON.stringify(message)}); };
module.exports = new Proxy(function leftOut() {}, {
  get: (target, key) => (key === '__esModule' ? true : typeof key === 'symbol' || key === 'then' ? undefined : fail()),
  apply: fail,
  construct: fail,
});
`;
}

export const leaveOut: Plugin = {
  name: 'leave-out',
  setup(b) {
    const names = Object.keys(LEFT_OUT).map((n) => n.replace(/[-/]/g, '\\$&'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) =>
      IMPORTER.test(args.importer) ? { path: args.path, namespace: 'left-out' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({ contents: stub(args.path), loader: 'js' }));
  },
};
