// Organisation mode's member setup (shared/policies/member-account.ros.yaml): the member role's policy is exactly the
// shipped function policy, its trust admits only the central function role, and the routing rule sends what on-tag
// reads. The e2e suites build the member role from the same files (test/e2e/organisation.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FUNCTION_ROLE, shippedPolicy } from '../../scripts/function-role';
import { SNAPSHOT_READY_TYPE } from '../../shared/events';

const root = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const template = () => parse(read('shared/policies/member-account.ros.yaml'));

describe('the member account ROS template', () => {
  it('gives the member role exactly the shipped function policy, as its only policy', () => {
    const role = template().Resources.MemberRole;
    expect(role.Type).toBe('ALIYUN::RAM::Role');
    expect(role.Properties.Policies).toHaveLength(1);
    expect(role.Properties.Policies[0].PolicyDocument).toEqual(JSON.parse(shippedPolicy()));
  });

  it('trusts only the central function role, as the shipped member trust file does', () => {
    const t = template();
    const trust = t.Resources.MemberRole.Properties.AssumeRolePolicyDocument;
    expect(trust.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { RAM: [{ 'Fn::Sub': 'acs:ram::${CentralAccountId}:role/${CentralRoleName}' }] },
      },
    ]);
    expect(t.Parameters.CentralRoleName.Default).toBe(FUNCTION_ROLE);
    const file = JSON.parse(read('shared/policies/member-role-trust.json'));
    const substituted = JSON.parse(
      JSON.stringify(trust).replace(
        /\{"Fn::Sub":"acs:ram::\$\{CentralAccountId\}:role\/\$\{CentralRoleName\}"\}/,
        `"acs:ram::<CENTRAL_UID>:role/${FUNCTION_ROLE}"`,
      ),
    );
    expect(substituted).toEqual(file);
  });

  it('names the member role SHARE_MEMBER_ROLE defaults to, and the central add-on may assume exactly that role', () => {
    expect(template().Parameters.MemberRoleName.Default).toBe('ecs-share-member');
    const addOn = JSON.parse(read('shared/policies/function-role-org.json'));
    expect(addOn.Statement).toEqual([
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: 'acs:ram::*:role/ecs-share-member' },
      { Effect: 'Allow', Action: 'resourcemanager:ListAccounts', Resource: '*' },
      // The fan-out's worker only (the coordinator invokes it, it continues itself), and its failure queue.
      { Effect: 'Allow', Action: 'fc:InvokeFunction', Resource: 'acs:fc:*:*:functions/ecs-share-reconcile-worker' },
      {
        Effect: 'Allow',
        Action: 'mns:SendMessage',
        Resource: 'acs:mns:*:*:/queues/ecs-share-worker-failures/messages',
      },
    ]);
  });

  it('routes the ECS ActionTrail calls and the snapshot-ready event to the central bus of another account', () => {
    const rule = template().Resources.RouteEcsEvents;
    expect(rule.Properties.FilterPattern).toEqual({
      source: ['acs.ecs'],
      type: ['ecs:ActionTrail:ApiCall', 'ecs:ActionTrail:ConsoleOperation', SNAPSHOT_READY_TYPE],
    });
    const params = Object.fromEntries(
      rule.Properties.Targets[0].ParamList.map((p: { ResourceKey: string; Value?: unknown; Form: string }) => [
        p.ResourceKey,
        p.Value ?? p.Form,
      ]),
    );
    expect(params).toMatchObject({
      AccountType: 'AnotherAccount',
      AccountId: { Ref: 'CentralAccountId' },
      EventBusName: { Ref: 'CentralEventBusName' },
      Body: 'ORIGINAL',
    });
  });
});
