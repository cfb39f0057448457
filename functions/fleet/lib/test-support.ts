/** Test helpers shared by the fleet tests: position events as a device sends them. */
import type { CloudEvent } from '../../runtime/src/index.ts';
import { FleetEventType, type PositionReported } from './fleet.ts';

/** `…position.reported.v1` as a device sends it: the vehicle as subject, the fix time as time. */
export function positionEvent(
  id: string,
  vehicleId: string | undefined,
  time: string | undefined,
  data: PositionReported,
): CloudEvent<PositionReported, typeof FleetEventType.positionReported> {
  return {
    specversion: '1.0',
    id,
    source: '/tests/fleet',
    type: FleetEventType.positionReported,
    ...(vehicleId === undefined ? {} : { subject: vehicleId }),
    ...(time === undefined ? {} : { time }),
    datacontenttype: 'application/json',
    data,
    extensions: {},
  };
}
