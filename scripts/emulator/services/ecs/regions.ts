// ECS regions: DescribeRegions over the state's regions, and the check of a destination region (Copy calls).
import { ApiError, type CallContext } from '../../types';

export function checkRegion(ctx: CallContext, region: string, param = 'DestinationRegionId'): void {
  if (!/^[a-z]{2}(-[a-z0-9]+)+$/.test(region) || !ctx.state.regions.includes(region)) {
    throw new ApiError(404, 'InvalidRegionId.NotFound', `The specified ${param} ${region} does not exist.`);
  }
}

/** LocalName of the regions tests use; any other listed region is named after its id. */
const REGION_NAMES: Record<string, string> = {
  'cn-hangzhou': 'China (Hangzhou)',
  'cn-shanghai': 'China (Shanghai)',
  'cn-beijing': 'China (Beijing)',
  'cn-shenzhen': 'China (Shenzhen)',
  'cn-hongkong': 'China (Hong Kong)',
  'ap-southeast-1': 'Singapore',
};

export function describeRegions(ctx: CallContext): Record<string, unknown> {
  return {
    Regions: {
      Region: ctx.state.regions.map((r) => ({
        RegionId: r,
        LocalName: REGION_NAMES[r] ?? r,
        RegionEndpoint: r === 'cn-hangzhou' ? 'ecs-cn-hangzhou.aliyuncs.com' : `ecs.${r}.aliyuncs.com`,
        Status: 'available',
      })),
    },
  };
}
