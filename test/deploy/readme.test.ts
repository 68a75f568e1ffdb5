// The README is part of the product: its commands, the policy it prints and the filter it shows must be the real ones.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { samePolicy } from '../../shared/domain/policy-json';

const root = path.resolve(__dirname, '../..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const jsonBlocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('README', () => {
  it('starts with the demo command and the test command that .ci/run runs', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(firstBlock).toMatch(/^npm ci && npm start\b/m);
    expect(firstBlock).toMatch(/^npm ci && npm test\b/m);
    expect(fs.readFileSync(path.join(root, '.ci/run'), 'utf8')).toMatch(/^npm ci\b[\s\S]*^npm test$/m);
  });

  it('prints exactly the function role policy that is shipped and tested', () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(root, 'shared/policies/function-role.json'), 'utf8'));
    const parsed = jsonBlocks.flatMap((b) => {
      try {
        return [JSON.parse(b)];
      } catch {
        return []; // illustrative blocks (statement lines, a summary with "…") are not whole documents
      }
    });
    const printed = parsed.find((doc) => doc.Statement?.some((s: { Action: unknown }) => JSON.stringify(s.Action).includes('ram:UpdateRole')));
    expect(samePolicy(printed, shipped)).toBe(true);
  });

  it('shows the EventBridge filter that s.yaml deploys', () => {
    const sYaml = parse(fs.readFileSync(path.join(root, 's.yaml'), 'utf8'));
    const pattern = JSON.parse(sYaml.resources['on-tag'].props.triggers[0].triggerConfig.eventRuleFilterPattern);
    expect(jsonBlocks.map((b) => b.trim())).toContain(JSON.stringify(pattern));
  });
});
