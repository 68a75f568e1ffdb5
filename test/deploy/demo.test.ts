// The README's first command must keep working: `npm start` runs the whole story on the emulator and exits 0
// only when every recipient-side check held.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('npm start', () => {
  it('shares a snapshot and an image from tags and shows the recipients using them', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: path.resolve(__dirname, '../..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Every expected outcome held.');
    expect(r.stdout).toMatch(
      /1000000000000003 CreateDisk \(cloud_essd\) from snapshot s-demo0cmk0000000001 -> disk d-/,
    );
    expect(r.stdout).toMatch(/control: .* refused: InvalidSnapshotId\.NotFound/);
    // The feedback on the resources, the secure default allowed by name, and a service-key snapshot shared by copy.
    expect(r.stdout).toMatch(/image m-demo0cmk0000000001 tag ecs-share:status = shared 2 \| /);
    expect(r.stdout).toContain('SHARE_ALLOW_ACCOUNTS=');
    expect(r.stdout).toMatch(/1000000000000002 CreateDisk \(cloud_essd\) from the copy s-\S+ -> disk d-/);
    expect(r.stdout).toMatch(/tag ecs-share:status = shared 1 through its copy s-/);
  });
});
