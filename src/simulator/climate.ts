/**
 * Temperatures a sensor would read: a daily curve per region (coolest before dawn, warmest mid
 * afternoon, local time) plus a fixed bias per sensor (placement) and noise.
 *
 * A reading's temperature is a function of (seed, device, timestamp) only, so a reading generated
 * twice is the same reading: a restarted fleet that backfills history it already sent gets
 * `duplicate` answers, never `conflict`.
 */
import { Random, seedOf } from './random.js';

export interface Climate {
  /** Daily mean, °C. */
  mean: number;
  /** Half the difference between the day's high and low, °C. */
  amplitude: number;
  /** Offset of local time from UTC, hours. */
  utcOffset: number;
}

/** Regions used when only a number of regions is asked for, with a plausible climate each. */
export const DEFAULT_REGIONS: ReadonlyArray<{ name: string; climate: Climate }> = [
  { name: 'eu-west', climate: { mean: 13, amplitude: 5, utcOffset: 0 } },
  { name: 'us-east', climate: { mean: 18, amplitude: 6, utcOffset: -5 } },
  { name: 'ap-south', climate: { mean: 29, amplitude: 4, utcOffset: 5.5 } },
  { name: 'eu-north', climate: { mean: 5, amplitude: 4, utcOffset: 1 } },
  { name: 'us-west', climate: { mean: 20, amplitude: 8, utcOffset: -8 } },
  { name: 'ap-east', climate: { mean: 24, amplitude: 5, utcOffset: 8 } },
  { name: 'sa-east', climate: { mean: 23, amplitude: 5, utcOffset: -3 } },
  { name: 'af-south', climate: { mean: 18, amplitude: 7, utcOffset: 2 } },
  { name: 'me-central', climate: { mean: 33, amplitude: 9, utcOffset: 4 } },
  { name: 'oc-south', climate: { mean: 16, amplitude: 6, utcOffset: 10 } },
];

/** A climate for a region name that is not one of the defaults: derived from the name. */
export function climateOf(name: string): Climate {
  const known = DEFAULT_REGIONS.find((r) => r.name === name);
  if (known) return known.climate;
  const rnd = new Random(seedOf('climate', name));
  return { mean: Math.round(rnd.between(-5, 32)), amplitude: Math.round(rnd.between(2, 9)), utcOffset: rnd.int(25) - 12 };
}

const HOUR = 3_600_000;
/** Sensors report hundredths of a degree. */
const RESOLUTION = 100;
/** Standard deviation of a reading's noise, °C. */
const NOISE = 0.25;

/** The temperature a sensor with `bias` reads at `timestamp` (ms since the epoch). */
export function temperatureAt(climate: Climate, bias: number, seed: number, deviceId: string, timestamp: number): number {
  const localHours = (timestamp / HOUR + climate.utcOffset) % 24;
  // Peak at 15:00 local time, trough at 03:00.
  const daily = climate.amplitude * Math.sin((2 * Math.PI * (localHours - 9)) / 24);
  const noise = new Random(seedOf(seed, deviceId, timestamp)).normal() * NOISE;
  const t = climate.mean + daily + bias + noise;
  return Math.round(t * RESOLUTION) / RESOLUTION;
}
