/**
 * Prometheus names carry their unit (OpenTelemetry's Prometheus compatibility rules):
 * `http.server.request.duration` in seconds is `http_server_request_duration_seconds_*`.
 */
import { describe, expect, it } from 'vitest';
import { prometheusMetricName, unitSuffix } from '../../src/telemetry/prometheus-names.js';

describe('Prometheus names with units', () => {
  it.each([
    ['http.server.request.duration', 's', 'http.server.request.duration.seconds'],
    ['edgeagg.db.size', 'By', 'edgeagg.db.size.bytes'],
    ['edgeagg.readings', '{reading}', 'edgeagg.readings'],
    ['process.cpu.time', 's', 'process.cpu.time.seconds'],
    ['already_seconds', 's', 'already_seconds'],
    ['edgeagg.write.rate', 'By/s', 'edgeagg.write.rate.bytes_per_second'],
    ['no.unit', '', 'no.unit'],
  ])('%s in %s is exported as %s', (name, unit, expected) => {
    expect(prometheusMetricName(name, unit)).toBe(expected);
  });

  it('adds nothing for annotations in braces', () => {
    expect(unitSuffix('{request}')).toBeUndefined();
    expect(unitSuffix(undefined)).toBeUndefined();
  });
});
