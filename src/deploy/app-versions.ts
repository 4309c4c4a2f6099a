/**
 * The versions of one app that are live on this node: the stable version, and at most one canary with its
 * share of devices. Requests ask it which version serves them; every call's outcome goes into that
 * version's health window. A request holds the module it started on, so a swap never cuts a call short.
 */
import type { AppVersions } from '../apps/index.js';
import type { GuestModule } from '../runtime/index.js';
import { inCanary } from './canary.js';
import { HealthWindow, type HealthSummary } from './health-window.js';

export interface VersionStats extends HealthSummary {
  version: string;
}

export class LiveVersions implements AppVersions {
  private canaryModule: GuestModule | undefined = undefined;
  private share = 0;
  private readonly health = new Map<GuestModule, HealthWindow>();

  constructor(
    readonly app: string,
    private stableModule: GuestModule,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  stable(): GuestModule {
    return this.stableModule;
  }

  get canary(): GuestModule | undefined {
    return this.canaryModule;
  }

  get canaryShare(): number {
    return this.canaryModule ? this.share : 0;
  }

  canaryFor(deviceId: string): GuestModule | undefined {
    return this.canaryModule && inCanary(this.app, deviceId, this.share) ? this.canaryModule : undefined;
  }

  /** Every version that folds the app's events: the stable first. */
  folders(): GuestModule[] {
    return this.canaryModule ? [this.stableModule, this.canaryModule] : [this.stableModule];
  }

  observe(module: GuestModule, failed: boolean, latencyMs: number): void {
    this.windowOf(module).record(failed, latencyMs);
  }

  /** The window's figures of a version. */
  stats(module: GuestModule): VersionStats {
    return { version: module.version, ...this.windowOf(module).summary() };
  }

  /** A new canary (its health starts empty). */
  startCanary(module: GuestModule, share: number): void {
    this.canaryModule = module;
    this.share = share;
    this.health.delete(module);
  }

  setShare(share: number): void {
    this.share = share;
  }

  /** All traffic to the stable version; the canary stops folding. */
  dropCanary(): void {
    if (this.canaryModule) this.health.delete(this.canaryModule);
    this.canaryModule = undefined;
    this.share = 0;
  }

  /** `module` becomes the stable version; the canary, if it was that module, is no longer a canary. */
  makeStable(module: GuestModule): void {
    if (this.canaryModule === module) this.canaryModule = undefined;
    this.health.delete(this.stableModule);
    this.stableModule = module;
    this.share = this.canaryModule ? this.share : 0;
  }

  private windowOf(module: GuestModule): HealthWindow {
    let w = this.health.get(module);
    if (!w) {
      w = new HealthWindow(this.windowMs, this.now);
      this.health.set(module, w);
    }
    return w;
  }
}
