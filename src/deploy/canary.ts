/**
 * Which devices a canary serves. A device's place on [0, 1) is a hash of (app, device id), fixed forever;
 * the canary serves the devices whose place is below its share. Raising the share only adds devices, so no
 * device flips between versions as a rollout advances, and each app draws a different set of devices.
 */
import { createHash } from 'node:crypto';

/** The device's fixed place on [0, 1) for this app. */
export function canaryPoint(app: string, deviceId: string): number {
  const digest = createHash('sha256').update(app).update('\0').update(deviceId).digest();
  // 48 bits: exact in a double, and far finer than any share anyone sets.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** True when the canary at `share` (0..1) serves this device. */
export function inCanary(app: string, deviceId: string, share: number): boolean {
  return share > 0 && canaryPoint(app, deviceId) < share;
}
