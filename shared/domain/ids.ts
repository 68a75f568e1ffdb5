// The ids ecs-share reads and writes, in one place: what each looks like and what its prefix says. Pure.

/** A resource ecs-share shares, as ECS's tag APIs spell it (ListTagResources, TagResources: `ResourceType`). */
export type ResourceType = 'snapshot' | 'image';

/** The same, as Resource Sharing spells it (CreateResourceShare's `Resources.N.ResourceType`). */
export type SharedResourceType = 'Snapshot' | 'Image';

/** A snapshot (s-…) or image (m-…) id. */
export const RESOURCE_ID = /^[sm]-[A-Za-z0-9]{4,64}$/;

/** An account UID: exactly 16 digits (kept a string: it does not fit a JS number exactly). */
export const ACCOUNT_UID = /^\d{16}$/;

/** A resource directory id. */
export const RD_ID = /^rd-[A-Za-z0-9]{4,32}$/;

/** A region id such as cn-hangzhou or ap-southeast-1. */
export const REGION = /^[a-z]{2,}(-[a-z0-9]+)+$/;

export const isAccountUid = (v: string): boolean => ACCOUNT_UID.test(v);

/** What a resource id names, from its prefix: m-… is an image, s-… a snapshot. */
export const resourceTypeOf = (id: string): ResourceType => (id.startsWith('m-') ? 'image' : 'snapshot');
