/** Apps the node mounts, and the handlers that answer a route with a guest: the public face of src/apps. */
export { AggregatorApp, type AggregatorAppOptions } from './aggregator/aggregator-app.js';
export { guestReadHandler, guestWriteHandler, type GuestRoutesOptions, type Handler } from './guest-routes.js';
export { aggregatorCounterMapper } from './aggregator/metrics.js';
export { routedCall, type AppVersions, type BatchSplitter, type SplitBatch, type RoutedResult } from './version-routing.js';
export { readingsSplitter } from './aggregator/batch-routing.js';
export type { DeviceView } from './aggregator/device-directory.js';
export { hostedAppRoutes, type HostedApp, type HostedAppsOptions } from './hosted-apps.js';
