// Everything taken from the official packages at run time: openapi-core's signed RPC call, the credential chain,
// darabonba's runtime options and cast, and the SDKs' own response models (one deep-imported file each, so the full
// clients and their model tables never load). Only api.ts imports this module, dynamically (loadSdk), so a function
// pays for none of it until its first call (docs/benchmarks.md, Cold start).
export { default as OpenApi, $OpenApiUtil, OpenApiUtil } from '@alicloud/openapi-core';
export { default as Credential } from '@alicloud/credentials';
export { RuntimeOptions, cast } from '@darabonba/typescript';
export { DescribeSnapshotsResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeSnapshotsResponseBody';
export { DescribeImagesResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeImagesResponseBody';
export { DescribeImageSharePermissionResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeImageSharePermissionResponseBody';
export { ListTagResourcesResponseBody } from '@alicloud/ecs20140526/dist/models/ListTagResourcesResponseBody';
export { DescribeRegionsResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeRegionsResponseBody';
export { GetRoleResponseBody } from '@alicloud/ram20150501/dist/models/GetRoleResponseBody';
export { ListPoliciesForRoleResponseBody } from '@alicloud/ram20150501/dist/models/ListPoliciesForRoleResponseBody';
export { GetPolicyResponseBody } from '@alicloud/ram20150501/dist/models/GetPolicyResponseBody';
export { ListPolicyVersionsResponseBody } from '@alicloud/ram20150501/dist/models/ListPolicyVersionsResponseBody';
export { GetCallerIdentityResponseBody } from '@alicloud/sts20150401/dist/models/GetCallerIdentityResponseBody';
export { InvokeFunctionRequest } from '@alicloud/fc20230330/dist/models/InvokeFunctionRequest';
export { InvokeFunctionHeaders } from '@alicloud/fc20230330/dist/models/InvokeFunctionHeaders';
export { ListAccountsResponseBody } from '@alicloud/resourcemanager20200331/dist/models/ListAccountsResponseBody';
